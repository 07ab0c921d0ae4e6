import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { unprofiledCmykToSrgb } from './cmyk.ts';
import { MediaError } from './errors.ts';

/** How an image of another aspect ratio is fitted to the model's size. */
export type FitMode = 'crop' | 'letterbox' | 'stretch';

export interface ImageLimits {
  /** Largest accepted file, bytes. */
  readonly maxBytes: number;
  /** Largest accepted width × height, read from the header before decoding. */
  readonly maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 25 * 1024 * 1024, maxPixels: 40_000_000 };
const ACCEPTED = new Set(['jpeg', 'png', 'webp', 'gif', 'heif', 'avif']);

/** An image normalised for the model: sRGB, upright, opaque, exactly `width × height`. */
export interface NormalizedImage {
  readonly width: number;
  readonly height: number;
  /** `[H·W·3]` interleaved sRGB bytes. */
  readonly rgb: Uint8Array;
  /** What the source was, for logs and error reports. */
  readonly source: { format: string; width: number; height: number; space: string; hasProfile: boolean };
}

/**
 * Reads any image a user may send and normalises it: EXIF orientation applied, ICC profiles (Adobe RGB, P3, CMYK)
 * converted to sRGB, a CMYK JPEG without a profile converted as browsers show it (media/cmyk.ts), alpha flattened onto
 * black, the first frame of an animation, then fitted to `width × height` with a Lanczos kernel (the reference resizes
 * with LANCZOS). Anything that is not a supported image, or exceeds the
 * limits, is a {@link MediaError} that says what was wrong; the header is checked before any pixel is decoded.
 */
export async function normalizeImage(
  input: Buffer | string,
  target: { width: number; height: number; fit: FitMode },
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<NormalizedImage> {
  const name = typeof input === 'string' ? input : 'the image';
  const bytes = typeof input === 'string' ? await readChecked(input, limits) : input;
  if (bytes.length === 0) throw new MediaError('Empty', `${name} is empty (0 bytes)`);
  if (bytes.length > limits.maxBytes)
    throw new MediaError('TooLarge', `${name} is ${mb(bytes.length)}; the limit is ${mb(limits.maxBytes)}`);

  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'none', limitInputPixels: false }).metadata();
  } catch (error) {
    throw new MediaError(
      'Unsupported',
      `${name} is not a supported image (JPEG, PNG, WebP, GIF, AVIF or HEIF): ${(error as Error).message}`,
      { cause: error },
    );
  }
  const format = meta.format ?? 'unknown';
  if (!ACCEPTED.has(format))
    throw new MediaError('Unsupported', `${name} is ${format}; send a JPEG, PNG, WebP, GIF, AVIF or HEIF image`);
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width < 1 || height < 1) throw new MediaError('Corrupt', `${name} has no readable size`);
  if (width * height > limits.maxPixels) {
    throw new MediaError(
      'TooLarge',
      `${name} is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP); the limit is ${(limits.maxPixels / 1e6).toFixed(0)} MP`,
    );
  }

  const hasProfile = meta.hasProfile === true;
  try {
    const decoded =
      meta.space === 'cmyk' && !hasProfile
        ? await unprofiledCmykToSrgb(bytes, limits.maxPixels).then(({ data, width, height }) =>
            sharp(data, { raw: { width, height, channels: 3 } }),
          )
        : sharp(bytes, { failOn: 'error', limitInputPixels: limits.maxPixels, pages: 1 })
            .rotate()
            .toColourspace('srgb')
            .flatten({ background: { r: 0, g: 0, b: 0 } });
    const { data, info } = await decoded
      .resize(target.width, target.height, {
        fit: target.fit === 'crop' ? 'cover' : target.fit === 'letterbox' ? 'contain' : 'fill',
        position: 'centre',
        background: { r: 0, g: 0, b: 0, alpha: 1 },
        kernel: 'lanczos3',
      })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== target.width || info.height !== target.height) {
      throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}`);
    }
    return {
      width: info.width,
      height: info.height,
      rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
      source: { format, width, height, space: meta.space ?? 'unknown', hasProfile },
    };
  } catch (error) {
    throw new MediaError(
      'Corrupt',
      `${name} could not be decoded (corrupt or truncated ${format}): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** `[H·W·3]` bytes → `[3, H, W]` floats in [−1, 1] (`px·2/255 − 1`, reference §A.3). */
export function rgbToModelInput(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (rgb[i * 3 + c] as number) * (2 / 255) - 1;
  }
  return out;
}

async function readChecked(path: string, limits: ImageLimits): Promise<Buffer> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new MediaError('Unsupported', `${path} is not a file`);
    size = info.size;
  } catch (error) {
    if (error instanceof MediaError) throw error;
    throw new MediaError(
      'Unsupported',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
      { cause: error },
    );
  }
  if (size === 0) throw new MediaError('Empty', `${path} is empty (0 bytes)`);
  if (size > limits.maxBytes)
    throw new MediaError('TooLarge', `${path} is ${mb(size)}; the limit is ${mb(limits.maxBytes)}`);
  return readFile(path);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** `width × height × 3` sRGB bytes as a PNG (progress previews posted to chat). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}
