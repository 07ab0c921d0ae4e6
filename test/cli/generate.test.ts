import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, probeClip } from '../../media/mp4.ts';
import { readSidecar, writeSidecar } from '../../media/sidecar.ts';
import { tensor } from '../../sampler/index.ts';
import { PACK_DIR } from '../helpers/pack.ts';
import { pngHeaderOnly } from '../helpers/png.ts';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
let out: string;

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

async function generateJson(args: string[]) {
  const result = await pusa([...args, '--json', '--steps', '4']);
  expect(result.stderr).not.toMatch(/unexpected error/);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as {
    output: string;
    latents: string;
    frames: number;
    bytes: number;
    seed: number;
    parameters: Record<string, unknown>;
    timings: Record<string, number>;
    stepMs: number[];
  };
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'pusa-cli-'));
});

describe('pusa generation commands', () => {
  it('t2v writes an MP4 that ffprobe accepts, a latents sidecar and a JSON report', async () => {
    const result = await generateJson([
      't2v',
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--seed',
      '7',
      '--output',
      join(out, 't2v.mp4'),
    ]);

    const info = await probeClip(result.output);
    expect(info).toMatchObject({
      codec: 'h264',
      pixelFormat: 'yuv420p',
      width: 128,
      height: 128,
      frames: result.frames,
    });
    expect(result).toMatchObject({ seed: 7, parameters: { task: 't2v', steps: 4, seed: 7 } });
    expect(Object.keys(result.timings)).toEqual(
      expect.arrayContaining(['loadMs', 'textMs', 'sampleMs', 'decodeMs', 'encodeMs', 'mp4Ms', 'totalMs']),
    );
    // one time per step, adding up to the sampling time
    expect(result.stepMs).toHaveLength(4);
    expect(Math.abs(result.stepMs.reduce((a, b) => a + b, 0) - (result.timings['sampleMs'] ?? 0))).toBeLessThan(50);
    const sidecar = await readSidecar(result.latents);
    expect(sidecar.header).toMatchObject({ task: 't2v', seed: 7, width: 128, height: 128 });
  });

  it('i2v keeps the image as frame 0 at multiplier 0', async () => {
    const result = await generateJson([
      'i2v',
      '--image',
      join(root, 'samples/yellow-star.png'),
      '--noise-multiplier',
      '0',
      '--prompt',
      'a yellow star moves up on a black background',
      '--output',
      join(out, 'i2v.mp4'),
    ]);

    const frames = await decodeFrames(result.output, 128, 128);
    const { data } = await sharp(join(root, 'samples/yellow-star.png'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    let se = 0;
    for (let i = 0; i < data.length; i++) se += (frames.rgb[i]! - data[i]!) ** 2;
    expect(10 * Math.log10((255 * 255) / (se / data.length))).toBeGreaterThan(24);
  });

  it('start-end, keyframes, extend and transition all produce playable clips', async () => {
    const s = (name: string) => join(root, 'samples', name);
    const startEnd = await generateJson([
      'start-end',
      '--image',
      s('red-circle-start.png'),
      '--image',
      s('red-circle-end.png'),
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--output',
      join(out, 'se.mp4'),
    ]);
    const keyframes = await generateJson([
      'keyframes',
      '--image',
      `${s('green-square-top.png')}@0`,
      '--image',
      `${s('green-square-bottom.png')}@4`,
      '--frames',
      '17',
      '--prompt',
      'a green square moves down on a gray background',
      '--output',
      join(out, 'kf.mp4'),
    ]);
    const extend = await generateJson([
      'extend',
      '--clip',
      join(out, 't2v.mp4'),
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--output',
      join(out, 'ext.mp4'),
    ]);
    const transition = await generateJson([
      'transition',
      '--clip',
      join(out, 't2v.mp4'),
      '--clip',
      join(out, 'i2v.mp4'),
      '--prompt',
      'a yellow star moves up on a black background',
      '--output',
      join(out, 'tr.mp4'),
    ]);

    for (const r of [startEnd, keyframes, extend, transition]) expect((await probeClip(r.output)).codec).toBe('h264');
    expect(keyframes.frames).toBe(17);
    const previous = await probeClip(join(out, 't2v.mp4'));
    // Extend returns the earlier clip followed by the new frames past the carried-over ones.
    expect(extend.frames).toBeGreaterThan(previous.frames);
    expect((await probeClip(extend.output)).frames).toBe(extend.frames);
  });

  it('re-encodes a clip whose latents come from another model pack, and says so', async () => {
    const foreign = join(out, 'foreign.mp4');
    await copyFile(join(out, 't2v.mp4'), foreign);
    await writeSidecar(join(out, 'foreign.latents'), tensor(new Float32Array(4 * 3 * 4), [1, 4, 3, 2, 2]), {
      model: { name: 'other-pack', version: '9' },
      width: 64,
      height: 64,
      fps: 8,
      task: 't2v',
      prompt: 'x',
      seed: 1,
    });

    const result = await pusa([
      'extend',
      '--clip',
      foreign,
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--steps',
      '2',
      '--output',
      join(out, 'ext2.mp4'),
    ]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /foreign\.latents was made by other-pack@9 at 64x64; re-encoding .*foreign\.mp4 through pusa-mini's VAE instead/,
    );
  });
});

describe('pusa generation commands refuse bad input with a clear message', () => {
  let files: Record<string, string>;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-bad-'));
    files = {
      text: join(dir, 'notes.jpg'),
      empty: join(dir, 'empty.png'),
      huge: join(dir, 'huge.png'),
      truncated: join(dir, 'truncated.jpg'),
      notVideo: join(dir, 'clip.mp4'),
    };
    await writeFile(files['text']!, 'these are my notes, not a picture');
    await writeFile(files['empty']!, '');
    await writeFile(files['huge']!, pngHeaderOnly(20000, 20000));
    const jpeg = await sharp(join(root, 'samples/yellow-star.png')).jpeg().toBuffer();
    await writeFile(files['truncated']!, jpeg.subarray(0, Math.floor(jpeg.length / 3)));
    await writeFile(files['notVideo']!, 'not a video at all');
  });

  it.each([
    [
      'a text file named .jpg',
      () => ['i2v', '--image', files['text']!, '--prompt', 'p'],
      /notes\.jpg is not a supported image/,
    ],
    ['a zero-byte file', () => ['i2v', '--image', files['empty']!, '--prompt', 'p'], /empty\.png is empty \(0 bytes\)/],
    [
      'a 20000×20000 PNG',
      () => ['i2v', '--image', files['huge']!, '--prompt', 'p'],
      /huge\.png is 20000×20000 \(400\.0 MP\); the limit is 40 MP/,
    ],
    [
      'a truncated JPEG',
      () => ['i2v', '--image', files['truncated']!, '--prompt', 'p'],
      /truncated\.jpg could not be decoded|truncated\.jpg is not a supported image/,
    ],
    [
      'a keyframe past the last latent frame',
      () => ['keyframes', '--image', `${join(root, 'samples/yellow-star.png')}@12`, '--frames', '17', '--prompt', 'p'],
      /keyframe index 12 is out of range: 5 latent frames allow 0\.\.4/,
    ],
    [
      'a frame count the VAE cannot make',
      () => ['t2v', '--frames', '18', '--prompt', 'p'],
      /pusa-mini makes .*frames; got 18/,
    ],
    ['a missing prompt', () => ['t2v'], /t2v needs --prompt/],
    [
      'an image for t2v',
      () => ['t2v', '--prompt', 'p', '--image', join(root, 'samples/yellow-star.png')],
      /t2v takes no --image/,
    ],
    [
      'a file that is not a video',
      () => ['extend', '--clip', files['notVideo']!, '--prompt', 'p'],
      /clip\.mp4 is not a readable video/,
    ],
    [
      'a missing image',
      () => ['i2v', '--image', '/nonexistent/cat.png', '--prompt', 'p'],
      /cannot read \/nonexistent\/cat\.png: no such file/,
    ],
    [
      'an out-of-range multiplier',
      () => ['i2v', '--image', join(root, 'samples/yellow-star.png'), '--noise-multiplier', '1.5', '--prompt', 'p'],
      /must be in \[0, 1\], got 1\.5/,
    ],
    ['a bad guidance value', () => ['t2v', '--cfg', 'lots', '--prompt', 'p'], /--cfg expects a number, got "lots"/],
  ])('%s', async (_label, args, message) => {
    const result = await pusa([...args(), '--steps', '2']);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('pusa output files and seeds', () => {
  const main = join(root, 'cli/main.ts');
  const tsx = join(root, 'node_modules/.bin/tsx');
  /** `pusa …` from another working directory: its `out/` is that directory's, as for a user. */
  async function pusaIn(cwd: string, args: string[]) {
    try {
      const { stdout, stderr } = await run(tsx, [main, ...args], { cwd, maxBuffer: 16 << 20 });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const e = error as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  }
  const t2v = (prompt: string, ...more: string[]) => ['t2v', '--prompt', prompt, '--steps', '2', '--json', ...more];

  it('draws a different seed for each run without --seed, names the file after it, and prints it', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'pusa-seed-'));

    const first = JSON.parse((await pusaIn(cwd, t2v('a red circle moves right'))).stdout) as CliJson;
    const second = JSON.parse((await pusaIn(cwd, t2v('a blue square moves up'))).stdout) as CliJson;
    const plain = await pusaIn(
      cwd,
      t2v('a red circle moves right').filter((a) => a !== '--json'),
    );

    expect(first.seed).not.toBe(second.seed);
    expect(first.output).toBe(join(cwd, 'out', `t2v-${first.seed}.mp4`));
    expect(second.output).toBe(join(cwd, 'out', `t2v-${second.seed}.mp4`));
    expect(plain.stderr).toMatch(/seed (\d+) \(--seed \1 makes it again\)/);
  });

  it('never overwrites an earlier clip made with the same seed, and replaces a named --output saying so', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'pusa-names-'));
    const first = JSON.parse((await pusaIn(cwd, t2v('a red circle moves right', '--seed', '3'))).stdout) as CliJson;
    const before = await readFile(first.output);

    const second = JSON.parse((await pusaIn(cwd, t2v('a blue square moves up', '--seed', '3'))).stdout) as CliJson;
    const named = JSON.parse(
      (await pusaIn(cwd, t2v('a green square', '--seed', '4', '--output', first.output))).stdout,
    ) as CliJson;
    const namedAgain = await pusaIn(cwd, ['t2v', '--prompt', 'p', '--steps', '2', '--output', first.output]);

    expect(second.output).toBe(join(cwd, 'out', 't2v-3-2.mp4'));
    expect(second.latents).toBe(join(cwd, 'out', 't2v-3-2.latents'));
    expect(named).toMatchObject({ output: first.output, replaced: true, seed: 4 });
    expect(first.replaced).toBe(false);
    expect(namedAgain.stderr).toContain(`replaced the earlier ${first.output}, as --output asked`);
    expect(Buffer.compare(await readFile(first.output), before)).not.toBe(0);
    expect((await readSidecar(second.latents)).header).toMatchObject({ seed: 3, prompt: 'a blue square moves up' });
  });

  // 100000 steps would take hours: these fail within the test's timeout only if the check comes before sampling.
  it.each([
    ['--fps 0', ['--fps', '0'], /--fps must be between 1 and 240, got 0/],
    ['--fps 1000', ['--fps', '1000'], /--fps must be between 1 and 240, got 1000/],
    ['--max-bytes 0', ['--max-bytes', '0'], /--max-bytes expects an integer ≥ 1, got "0"/],
    ['an --output that is not .mp4', ['--output', 'clip.gif'], /--output must name an \.mp4 file/],
    ['an --output that is a folder', ['--output', tmpdir()], /is a folder; name a file such as/],
    ['a size the pack does not make', ['--size', '96x96'], /--size: pusa-mini makes 128x128; got 96x96/],
  ])('refuses %s before sampling', async (_label, flags, message) => {
    const cwd = await mkdtemp(join(tmpdir(), 'pusa-early-'));

    const result = await pusaIn(cwd, ['t2v', '--prompt', 'p', '--steps', '100000', ...flags]);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it.each(['t2v', 'i2v', 'start-end', 'keyframes', 'extend', 'transition', 'trace'])(
    'pusa %s --help prints that command’s usage and exits 0',
    async (command) => {
      const result = await pusaIn(root, [command, '--help']);

      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage: pusa ${command} `));
      expect(result.stderr).toBe('');
    },
  );
});

interface CliJson {
  output: string;
  latents: string;
  seed: number;
  replaced: boolean;
}
