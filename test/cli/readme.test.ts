import { execFile } from 'node:child_process';
import { mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeClip } from '../../media/mp4.ts';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');

/** The `npm run -s pusa -- …` lines of the README's "The `pusa` command" block, in order. */
async function readmeCommands(): Promise<string[]> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The `pusa` command'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('npm run -s pusa -- '));
}

describe("the README's pusa commands", () => {
  let cwd: string;
  beforeAll(async () => {
    // A checkout's root as the README assumes it (samples/ beside a fresh out/), without touching the real ./out.
    cwd = await mkdtemp(join(tmpdir(), 'pusa-readme-'));
    await symlink(join(root, 'samples'), join(cwd, 'samples'));
  });

  it('run as written, one after another, extend and transition reading the clips the earlier lines made', async () => {
    const commands = await readmeCommands();
    expect(commands.map((c) => c.split(' ')[5])).toEqual([
      't2v',
      'i2v',
      'start-end',
      'keyframes',
      'extend',
      'transition',
      'long',
    ]);

    for (const command of commands) {
      // `npm run -s pusa --` is `tsx cli/main.ts`; two steps keep it quick, and change nothing else.
      const line = `${command.replace('npm run -s pusa --', `${tsx} ${join(root, 'cli/main.ts')}`)} --steps 2 --quiet`;
      const result = await run('bash', ['-c', line], { cwd }).catch((error: { stderr: string; code: number }) => error);

      expect((result as { stderr: string }).stderr, command).toMatch(/^wrote /m);
      expect((result as { code?: number }).code ?? 0, command).toBe(0);
    }
    expect((await probeClip(join(cwd, 'out/t2v.mp4'))).codec).toBe('h264');
  });
});
