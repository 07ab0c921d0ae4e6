import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface KeptImage {
  bytes: Buffer;
  latentIndex?: number;
  name?: string;
}

/**
 * The images a job was made from, as the user sent them, kept beside the artifacts (`<root>/inputs/<jobId>/`) by the
 * core's submit, so Re-roll and Remix of an image task work on every front end later: after a Discord attachment's
 * signed URL expired, after a Slack file was deleted, after a restart.
 */
export function createInputStore(root: string) {
  const folder = (jobId: string) => join(root, 'inputs', jobId.replace(/[^A-Za-z0-9_-]/g, ''));
  return {
    async save(jobId: string, images: readonly KeptImage[]): Promise<void> {
      const dir = folder(jobId);
      await mkdir(dir, { recursive: true });
      await Promise.all(
        images.map(async (image, i) => {
          await writeFile(join(dir, `${i}.img`), image.bytes);
          await writeFile(
            join(dir, `${i}.json`),
            JSON.stringify({ latentIndex: image.latentIndex ?? null, name: image.name ?? null }),
          );
        }),
      );
    },
    /** Forgets a job's images (its result was deleted). */
    async remove(jobId: string): Promise<void> {
      await rm(folder(jobId), { recursive: true, force: true });
    },
    /** The kept images in their original order, or undefined when none were kept. */
    async load(jobId: string): Promise<KeptImage[] | undefined> {
      const dir = folder(jobId);
      const names = await readdir(dir).catch(() => undefined);
      if (names === undefined) return undefined;
      const count = names.filter((n) => n.endsWith('.img')).length;
      return await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const meta = JSON.parse(await readFile(join(dir, `${i}.json`), 'utf8')) as {
            latentIndex: number | null;
            name: string | null;
          };
          return {
            bytes: await readFile(join(dir, `${i}.img`)),
            ...(meta.latentIndex === null ? {} : { latentIndex: meta.latentIndex }),
            ...(meta.name === null ? {} : { name: meta.name }),
          };
        }),
      );
    },
  };
}
export type InputStore = ReturnType<typeof createInputStore>;
