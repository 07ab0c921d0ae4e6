import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import process from 'node:process';

/**
 * A new folder `<parent>/<name>-<local date>-<time>` (with `-2`, `-3`, … if a run in the same second took it) for one
 * demo run. The demos write only inside it and delete nothing, so the clips a user made in `./out` stay where they are.
 */
export async function createRunFolder(name: string, parent = 'out', now = new Date()): Promise<string> {
  await mkdir(parent, { recursive: true });
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  for (let n = 1; ; n++) {
    const dir = join(parent, `${name}-${stamp}${n === 1 ? '' : `-${n}`}`);
    try {
      // Not recursive: EEXIST is how a folder another run already made is told apart from a new one.
      await mkdir(dir);
      return relative(process.cwd(), dir) || dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
