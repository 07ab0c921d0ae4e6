import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaError } from '../../media/errors.ts';
import { decodeFrames, encodeMp4, type Frames, probeClip } from '../../media/mp4.ts';
import { decodeSidecar, encodeSidecar, readSidecar, sidecarPathFor, writeSidecar } from '../../media/sidecar.ts';
import { tensor } from '../../sampler/index.ts';

/** A square moving right across a dark background: real content for the encoder. */
function movingSquare(count: number, width = 64, height = 64): Frames {
  const rgb = new Uint8Array(count * width * height * 3).fill(20);
  for (let t = 0; t < count; t++) {
    for (let y = 24; y < 40; y++) {
      for (let x = 4 + t * 2; x < 20 + t * 2; x++) rgb.set([230, 40, 40], ((t * height + y) * width + x) * 3);
    }
  }
  return { width, height, count, rgb };
}

async function tempDir() {
  return mkdtemp(join(tmpdir(), 'pusa-mp4-'));
}

describe('encodeMp4 and probeClip', () => {
  it('writes H.264 yuv420p with faststart at the requested fps, which ffprobe accepts', async () => {
    const dir = await tempDir();
    const path = join(dir, 'clip.mp4');

    const { mp4 } = await encodeMp4(movingSquare(17), { fps: 16 });
    await writeFile(path, mp4);
    const info = await probeClip(path);

    expect(info).toMatchObject({ codec: 'h264', pixelFormat: 'yuv420p', width: 64, height: 64, frames: 17, fps: 16 });
    // faststart puts the moov atom before mdat.
    expect(mp4.indexOf('moov')).toBeLessThan(mp4.indexOf('mdat'));
  });

  it('re-encodes at lower quality until the clip fits the byte budget', async () => {
    const frames = movingSquare(25, 128, 128);
    const noisy = { ...frames, rgb: frames.rgb.map((v, i) => (v + ((i * 2654435761) % 97)) & 255) };
    const free = await encodeMp4(noisy, { fps: 16 });

    const fitted = await encodeMp4(noisy, { fps: 16, maxBytes: Math.floor(free.mp4.length / 3) });

    expect(fitted.mp4.length).toBeLessThanOrEqual(Math.floor(free.mp4.length / 3));
    expect(fitted.crf).toBeGreaterThan(free.crf);
  });

  it('fails clearly when no quality fits the budget', async () => {
    await expect(encodeMp4(movingSquare(9), { fps: 16, maxBytes: 200 })).rejects.toThrow(
      /does not fit in 200 bytes even at the lowest quality/,
    );
  });

  it('decodes frames back at another size with the content in place', async () => {
    const dir = await tempDir();
    const path = join(dir, 'clip.mp4');
    await writeFile(path, (await encodeMp4(movingSquare(9), { fps: 16 })).mp4);

    const frames = await decodeFrames(path, 32, 32);

    expect(frames.count).toBe(9);
    const centre = ((0 * 32 + 16) * 32 + 6) * 3;
    expect(frames.rgb[centre]).toBeGreaterThan(150);
  });

  it('refuses a file that is not a video', async () => {
    const dir = await tempDir();
    const path = join(dir, 'fake.mp4');
    await writeFile(path, 'this is not a video');

    await expect(probeClip(path)).rejects.toBeInstanceOf(MediaError);
    await expect(decodeFrames(path, 32, 32)).rejects.toThrow(/could not be decoded as a video/);
  });
});

describe('latents sidecar', () => {
  it('round-trips latents and provenance next to the MP4', async () => {
    const dir = await tempDir();
    const path = sidecarPathFor(join(dir, 'clip.mp4'));
    const latents = tensor(
      Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 7),
      [1, 2, 3, 2, 2],
    );
    const header = {
      model: { name: 'm', version: '1' },
      width: 16,
      height: 16,
      fps: 8,
      task: 't2v',
      prompt: 'p',
      seed: 3,
    };

    await writeSidecar(path, latents, header);
    const back = await readSidecar(path);

    expect(path.endsWith('clip.latents')).toBe(true);
    expect(back.header).toEqual(header);
    expect(back.latents.dims).toEqual([1, 2, 3, 2, 2]);
    expect(back.latents.data).toEqual(latents.data);
  });

  it('refuses a file that is not a sidecar, and a truncated one', async () => {
    const dir = await tempDir();
    const bogus = join(dir, 'x.latents');
    await writeFile(bogus, 'nope nope nope');
    const truncated = join(dir, 'y.latents');
    await writeSidecar(truncated, tensor(new Float32Array(8), [1, 2, 1, 2, 2]), {
      model: { name: 'm', version: '1' },
      width: 1,
      height: 1,
      fps: 1,
      task: 't2v',
      prompt: '',
      seed: 0,
    });
    const { readFile } = await import('node:fs/promises');
    await writeFile(truncated, (await readFile(truncated)).subarray(0, -5));

    await expect(readSidecar(bogus)).rejects.toThrow(/not a pusa-bot latents file/);
    await expect(readSidecar(truncated)).rejects.toThrow(/truncated/);
  });

  const header = { model: { name: 'm', version: '1' }, width: 1, height: 1, fps: 1, task: 't2v', prompt: '', seed: 0 };
  const withHeader = (json: string, values = Buffer.alloc(0)) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(Buffer.byteLength(json));
    return Buffer.concat([Buffer.from('PUSALAT1'), length, Buffer.from(json), values]);
  };
  it.each([
    [
      'a header cut short',
      encodeSidecar(tensor(new Float32Array(4), [1, 1, 1, 2, 2]), header).subarray(0, 30),
      /truncated: its header/,
    ],
    ['a header without dims', withHeader('{"model":{"name":"m","version":"1"}}'), /damaged header/],
    ['a header that is not an object', withHeader('null'), /damaged header/],
    ['negative dims', withHeader('{"dims":[1,-4],"model":{"name":"m","version":"1"}}'), /damaged header/],
    ['dims past any clip', withHeader('{"dims":[65536,65536],"model":{"name":"m","version":"1"}}'), /truncated/],
    ['a NaN value', encodeSidecar(tensor(new Float32Array([0, Number.NaN]), [1, 2]), header), /not a number/],
  ])('refuses %s with a Corrupt MediaError, never a TypeError', (_name, bytes, message) => {
    expect(() => decodeSidecar(bytes)).toThrow(message);
    expect(() => decodeSidecar(bytes)).toThrow(MediaError);
  });
});
