import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { decodeSidecar } from '../media/sidecar.ts';

/** A stored file that is there but damaged (a truncated or invalid latents sidecar): the store's fault, not a user's. */
export class DamagedArtifactError extends Error {
  override readonly name = 'DamagedArtifactError';
  readonly relativePath: string;

  constructor(relativePath: string, cause: unknown) {
    super(`${relativePath} is damaged: ${(cause as Error).message}`, { cause });
    this.relativePath = relativePath;
  }
}

/** Where finished MP4s and their latents live on the bot host; history and `/extend` read from here. */
export interface ArtifactStore {
  readonly root: string;
  /** Writes a job's results; returns paths relative to the root. */
  save(
    jobId: string,
    files: { mp4: Uint8Array; latents: Uint8Array },
  ): Promise<{ mp4Path: string; latentsPath: string }>;
  /** Writes segment `index` of a /long job beside its clip (the same folder, so deleting the job takes it too). */
  saveSegment(jobId: string, index: number, mp4: Uint8Array): Promise<string>;
  /** Where `saveSegment` keeps segment `index` of a /long job (relative; the file may not exist). */
  segmentPath(jobId: string, index: number): string;
  read(relativePath: string): Promise<Buffer>;
  /** A clip's latents sidecar, checked whole before anything uses it; DamagedArtifactError when it is not. */
  readLatents(relativePath: string): Promise<Buffer>;
  /** Deletes a job's files (and their folder when empty); files already gone are fine. */
  remove(...relativePaths: string[]): Promise<void>;
  absolute(relativePath: string): string;
}

export function createArtifactStore(root: string): ArtifactStore {
  const base = resolve(root);
  const absolute = (relativePath: string) => {
    const path = resolve(base, relativePath);
    if (!path.startsWith(`${base}/`)) throw new Error(`artifact path escapes the store: ${relativePath}`);
    return path;
  };
  const segmentPath = (jobId: string, index: number) => join(jobId.slice(0, 2), jobId, `segment-${index}.mp4`);
  return {
    root: base,
    segmentPath,
    async save(jobId, files) {
      // Sharded by the first characters of the id so one directory never holds millions of files.
      const folder = join(jobId.slice(0, 2), jobId);
      const mp4Path = join(folder, 'clip.mp4');
      const latentsPath = join(folder, 'clip.latents');
      await mkdir(dirname(absolute(mp4Path)), { recursive: true });
      await Promise.all([writeFile(absolute(mp4Path), files.mp4), writeFile(absolute(latentsPath), files.latents)]);
      return { mp4Path, latentsPath };
    },
    async saveSegment(jobId, index, mp4) {
      const path = segmentPath(jobId, index);
      await mkdir(dirname(absolute(path)), { recursive: true });
      await writeFile(absolute(path), mp4);
      return path;
    },
    read: (relativePath) => readFile(absolute(relativePath)),
    async readLatents(relativePath) {
      const bytes = await readFile(absolute(relativePath));
      try {
        decodeSidecar(bytes, relativePath);
      } catch (error) {
        throw new DamagedArtifactError(relativePath, error);
      }
      return bytes;
    },
    async remove(...relativePaths) {
      await Promise.all(relativePaths.map((path) => rm(absolute(path), { force: true })));
      // The job's folder (see save) is removed only once empty, so files of another kind stay.
      for (const folder of new Set(relativePaths.map((path) => dirname(absolute(path)))))
        await rmdir(folder).catch(() => undefined);
    },
    absolute,
  };
}
