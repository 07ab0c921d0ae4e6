import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { probeClip } from '../../media/mp4.ts';
import { readSidecar } from '../../media/sidecar.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

async function pusa(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', 'pusa', '--', ...args, '--model', PACK_DIR], {
      cwd: root,
      maxBuffer: 16 << 20,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('pusa long', () => {
  it('chains a storyboard into one clip without repeated frames, the last latents beside it', async () => {
    const output = join(await mkdtemp(join(tmpdir(), 'pusa-long-')), 'long.mp4');
    const result = await pusa([
      'long',
      ...[
        '--prompt',
        'a red circle moves right',
        '--prompt',
        'a red circle moves left',
        '--prompt',
        'a red circle stops',
      ],
      ...['--frames', '17', '--steps', '1', '--cfg', '1', '--seed', '3', '--output', output, '--json'],
    ]);
    expect(result.stderr).not.toMatch(/unexpected error/);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { segments: number; frames: number; seed: number };
    expect(printed).toMatchObject({ segments: 3, frames: 17 + 2 * 16, seed: 3 });
    expect((await probeClip(output)).frames).toBe(49);
    // The last segment's 5 latent frames: what `pusa extend --clip` continues from.
    const { latents, header } = await readSidecar(output.replace(/\.mp4$/, '.latents'));
    expect(latents.dims[2]).toBe(5);
    expect(header).toMatchObject({ prompt: 'a red circle stops', seed: 5 });
  });

  it('refuses past 60 s and a prompt with no length, naming the option', async () => {
    const tooLong = await pusa(['long', '--prompt', 'a dot', '--seconds', '61']);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/seconds must be more than 0 and at most 60/);
    const noLength = await pusa(['long', '--prompt', 'a dot']);
    expect(noLength.stderr).toMatch(/say how long/);
  });
});
