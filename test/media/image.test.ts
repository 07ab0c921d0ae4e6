import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MediaError } from '../../media/errors.ts';
import { normalizeImage, rgbToModelInput } from '../../media/image.ts';
import { pngHeaderOnly } from '../helpers/png.ts';

const target = { width: 32, height: 32, fit: 'crop' as const };

/** A solid image of one colour, in any format sharp writes. */
function solid(width: number, height: number, rgb: [number, number, number], alpha?: number) {
  return sharp({
    create: {
      width,
      height,
      channels: alpha === undefined ? 3 : 4,
      background: { r: rgb[0], g: rgb[1], b: rgb[2], alpha: alpha ?? 1 },
    },
  });
}

function pixel(rgb: Uint8Array, width: number, x: number, y: number): number[] {
  const i = (y * width + x) * 3;
  return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
}

describe('normalizeImage', () => {
  it('returns sRGB bytes at the target size', async () => {
    const image = await normalizeImage(await solid(64, 48, [200, 30, 40]).png().toBuffer(), target);

    expect([image.width, image.height, image.rgb.length]).toEqual([32, 32, 32 * 32 * 3]);
    expect(pixel(image.rgb, 32, 16, 16)).toEqual([200, 30, 40]);
  });

  it('converts a CMYK JPEG to the right sRGB colour', async () => {
    const cmyk = await solid(40, 40, [220, 40, 40]).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();

    const image = await normalizeImage(cmyk, target);

    const [r, g, b] = pixel(image.rgb, 32, 16, 16);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(90);
    expect(b).toBeLessThan(90);
  });

  it('reads a CMYK JPEG without a profile as browsers do (inverted samples, R = (255 − C)(255 − K) / 255), upright', async () => {
    // Portrait after orientation 6: the red left half of the stored landscape ends up on top; display (x, y) is stored
    // (y, 19 − x).
    const left = await solid(30, 20, [220, 40, 40]).png().toBuffer();
    const stored = await solid(60, 20, [30, 60, 200])
      .composite([{ input: left, left: 0, top: 0 }])
      .toColourspace('cmyk')
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
    // sharp writes an orientation only with an sRGB profile, so the EXIF segment is borrowed from such a file.
    const tagged = await solid(4, 4, [0, 0, 0]).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const exif = tagged.subarray(tagged.indexOf(Buffer.from('Exif\0\0')) - 4);
    const landscape = Buffer.concat([
      stored.subarray(0, 2),
      exif.subarray(0, 2 + exif.readUInt16BE(2)),
      stored.subarray(2),
    ]);
    const meta = await sharp(landscape).metadata();
    expect([meta.space, meta.hasProfile, meta.orientation]).toEqual(['cmyk', false, 6]);
    const ink = await sharp(landscape).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
    const naive = (at: number) => [0, 1, 2].map((c) => Math.trunc(((255 - ink[at + c]!) * (255 - ink[at + 3]!)) / 255));

    const image = await normalizeImage(landscape, { width: 20, height: 60, fit: 'stretch' });

    expect(image.source).toMatchObject({ space: 'cmyk', hasProfile: false });
    expect(pixel(image.rgb, 20, 10, 5)).toEqual(naive((9 * 60 + 5) * 4));
    expect(pixel(image.rgb, 20, 10, 55)).toEqual(naive((9 * 60 + 55) * 4));
    expect(pixel(image.rgb, 20, 10, 5)[0]).toBeGreaterThan(200);
    expect(pixel(image.rgb, 20, 10, 55)[2]).toBeGreaterThan(200);
  });

  it('converts a wide-gamut (Display P3) image to sRGB rather than reading its numbers as sRGB', async () => {
    // sRGB (180, 60, 60) stored in P3 has other numbers; read as sRGB they would show a duller colour.
    const p3 = await solid(40, 40, [180, 60, 60]).withIccProfile('p3').png().toBuffer();
    const stored = await sharp(p3).keepIccProfile().raw().toBuffer();

    const image = await normalizeImage(p3, target);

    expect(Math.abs(stored[0]! - 180) + Math.abs(stored[1]! - 60)).toBeGreaterThan(8);
    const [r = 0, g = 0, b = 0] = pixel(image.rgb, 32, 16, 16);
    expect(Math.abs(r - 180)).toBeLessThanOrEqual(3);
    expect(Math.abs(g - 60)).toBeLessThanOrEqual(3);
    expect(Math.abs(b - 60)).toBeLessThanOrEqual(3);
  });

  it('applies EXIF orientation', async () => {
    // 60×20 landscape, left half red, tagged "rotate 90° clockwise" (orientation 6): upright it is portrait, red on top.
    const left = await solid(30, 20, [255, 0, 0]).png().toBuffer();
    const landscape = await solid(60, 20, [0, 0, 255])
      .composite([{ input: left, left: 0, top: 0 }])
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();

    const image = await normalizeImage(landscape, { width: 20, height: 60, fit: 'stretch' });

    expect(pixel(image.rgb, 20, 10, 5)[0]).toBeGreaterThan(200);
    expect(pixel(image.rgb, 20, 10, 55)[2]).toBeGreaterThan(200);
  });

  it('flattens transparency onto black', async () => {
    const image = await normalizeImage(await solid(32, 32, [255, 255, 255], 0).png().toBuffer(), target);

    expect(pixel(image.rgb, 32, 5, 5)).toEqual([0, 0, 0]);
  });

  it('reads 16-bit PNGs and the first frame of an animated GIF', async () => {
    const deep = await solid(32, 32, [10, 200, 10]).png().toColourspace('rgb16').toBuffer();
    const frames = await sharp(
      [await solid(32, 32, [0, 0, 255]).png().toBuffer(), await solid(32, 32, [255, 0, 0]).png().toBuffer()],
      { join: { animated: true } },
    )
      .gif()
      .toBuffer();

    const a = await normalizeImage(deep, target);
    const b = await normalizeImage(frames, target);

    expect(pixel(a.rgb, 32, 3, 3)[1]).toBeGreaterThan(190);
    expect(pixel(b.rgb, 32, 3, 3)[2]).toBeGreaterThan(200);
  });

  it.each([
    ['crop', [255, 0, 0]],
    ['letterbox', [0, 0, 0]],
    ['stretch', [0, 0, 255]],
  ] as const)('fits a wide image with %s', async (fit, corner) => {
    // 96×32: red centre third, blue sides.
    const wide = await solid(96, 32, [0, 0, 255])
      .composite([{ input: await solid(32, 32, [255, 0, 0]).png().toBuffer(), left: 32, top: 0 }])
      .png()
      .toBuffer();

    const image = await normalizeImage(wide, { width: 32, height: 32, fit });

    expect(pixel(image.rgb, 32, 1, 1)).toEqual(corner);
  });

  it.each([
    ['a zero-byte file', Buffer.alloc(0), 'Empty', /is empty/],
    ['a text file', Buffer.from('hello, I am not a picture'), 'Unsupported', /not a supported image/],
    [
      'a truncated JPEG',
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1]),
      'Unsupported',
      /not a supported image|could not be decoded/,
    ],
    ['a 20000×20000 PNG', pngHeaderOnly(20000, 20000), 'TooLarge', /20000×20000 \(400\.0 MP\); the limit is 40 MP/],
  ])('refuses %s with a clear error', async (_label, bytes, code, message) => {
    const attempt = normalizeImage(bytes, target);

    await expect(attempt).rejects.toBeInstanceOf(MediaError);
    await expect(attempt).rejects.toMatchObject({ code });
    await expect(attempt).rejects.toThrow(message);
  });

  it('refuses a corrupt PNG body without crashing', async () => {
    const good = await solid(64, 64, [1, 2, 3]).png().toBuffer();
    const broken = Buffer.concat([good.subarray(0, 60), Buffer.alloc(40, 7)]);

    await expect(normalizeImage(broken, target)).rejects.toThrow(MediaError);
  });

  it('refuses a file over the byte limit before reading it, and a missing path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-img-'));
    const path = join(dir, 'big.png');
    await writeFile(path, Buffer.alloc(2048, 1));

    await expect(normalizeImage(path, target, { maxBytes: 1024, maxPixels: 1e6 })).rejects.toThrow(
      /2048|0\.0 MiB; the limit is 0\.0 MiB/,
    );
    await expect(normalizeImage(join(dir, 'nope.jpg'), target)).rejects.toThrow(/no such file/);
  });
});

describe('rgbToModelInput', () => {
  it('maps bytes to [-1, 1] planes', () => {
    const planes = rgbToModelInput(Uint8Array.from([0, 255, 51, 255, 0, 102]), 2, 1);

    expect(Array.from(planes)).toEqual([-1, 1, 1, -1, 51 * (2 / 255) - 1, 102 * (2 / 255) - 1].map(Math.fround));
  });
});
