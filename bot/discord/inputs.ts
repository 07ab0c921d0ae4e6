import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface KeptImage {
  bytes: Buffer;
  latentIndex?: number;
  name?: string;
}

/**
 * The images a job was made from, kept beside the artifacts (`<root>/inputs/<jobId>/`) so Re-roll and Remix of an
 * image task work later, after the signed attachment URLs expired and after a restart.
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
