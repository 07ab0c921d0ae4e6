import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaError } from './errors.ts';
import { ffmpegPath, ffprobePath, runTool } from './ffmpeg.ts';

/** RGB frames of a clip, `[T·H·W·3]` interleaved bytes. */
export interface Frames {
  readonly width: number;
  readonly height: number;
  readonly count: number;
  readonly rgb: Uint8Array;
}

/** Qualities tried in turn until the file fits the byte budget (x264 CRF: lower is better). */
export const CRF_LADDER = [18, 23, 28, 33, 38, 43, 51];

/**
 * Encodes frames as an MP4 that plays everywhere: H.264, yuv420p, `+faststart` (playable while downloading), at the
 * pack's fps. With `maxBytes`, re-encodes at lower quality until the file fits (chat platforms cap uploads) and fails
 * with a clear error if even the lowest quality does not.
 */
export async function encodeMp4(
  frames: Frames,
  options: { fps: number; maxBytes?: number; timeoutMs?: number },
): Promise<{ mp4: Buffer; crf: number }> {
  const { width, height, count, rgb } = frames;
  if (rgb.length !== width * height * 3 * count)
    throw new MediaError('Encode', `expected ${count} frames of ${width}×${height}×3 bytes, got ${rgb.length} bytes`);
  // yuv420p needs even sides; pad by one pixel (duplicating the edge) rather than fail.
  const pad = width % 2 !== 0 || height % 2 !== 0 ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : [];
  // The MP4 muxer rewrites its header for +faststart, so it needs a seekable file rather than a pipe.
  const dir = await mkdtemp(join(tmpdir(), 'pusa-mp4-'));
  const out = join(dir, 'clip.mp4');
  try {
    for (const crf of CRF_LADDER) {
      await runTool(
        ffmpegPath(),
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-f',
          'rawvideo',
          '-pix_fmt',
          'rgb24',
          '-s',
          `${width}x${height}`,
          '-r',
          `${options.fps}`,
          '-i',
          'pipe:0',
          ...pad,
          '-c:v',
          'libx264',
          '-preset',
          'medium',
          '-crf',
          `${crf}`,
          '-pix_fmt',
          'yuv420p',
          '-movflags',
          '+faststart',
          '-y',
          out,
        ],
        rgb,
        options.timeoutMs ?? 120_000,
      ).catch((error: unknown) => {
        throw new MediaError('Encode', `MP4 encoding failed: ${(error as Error).message}`, { cause: error });
      });
      const mp4 = await readFile(out);
      if (options.maxBytes === undefined || mp4.length <= options.maxBytes) return { mp4, crf };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  throw new MediaError(
    'Budget',
    `the clip does not fit in ${options.maxBytes} bytes even at the lowest quality; ask for fewer frames or a smaller size`,
  );
}

/** Facts ffprobe reads from a clip. */
export interface ClipInfo {
  readonly width: number;
  readonly height: number;
  readonly frames: number;
  readonly fps: number;
  readonly codec: string;
  readonly pixelFormat: string;
  readonly durationSeconds: number;
}

/** Reads a clip's first video stream with ffprobe; a file with no video stream is a clear error. */
export async function probeClip(path: string): Promise<ClipInfo> {
  const json = await runTool(
    ffprobePath(),
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=codec_name,pix_fmt,width,height,nb_read_frames,avg_frame_rate:format=duration',
      '-of',
      'json',
      path,
    ],
    undefined,
    60_000,
  ).catch((error: unknown) => {
    throw new MediaError('Corrupt', `${path} is not a readable video: ${(error as Error).message}`, { cause: error });
  });
  const parsed = JSON.parse(json.toString('utf8')) as { streams?: ProbedStream[]; format?: { duration?: string } };
  const stream = parsed.streams?.[0];
  if (stream === undefined) throw new MediaError('Unsupported', `${path} has no video stream`);
  const [num = 0, den = 1] = (stream.avg_frame_rate ?? '0/1').split('/').map(Number);
  return {
    width: Number(stream.width),
    height: Number(stream.height),
    frames: Number(stream.nb_read_frames),
    fps: den === 0 ? 0 : num / den,
    codec: String(stream.codec_name),
    pixelFormat: String(stream.pix_fmt),
    durationSeconds: Number(parsed.format?.duration ?? 0),
  };
}

/** The ffprobe fields read above (ffprobe's own snake_case names). */
interface ProbedStream {
  codec_name?: string;
  pix_fmt?: string;
  width?: number;
  height?: number;
  nb_read_frames?: string;
  avg_frame_rate?: string;
}

/**
 * Decodes a clip's frames at `width × height` (centre-cropped to that aspect, Lanczos-scaled), for clips that come
 * without latents and must be re-encoded through the VAE.
 */
export async function decodeFrames(path: string, width: number, height: number, maxFrames = 1000): Promise<Frames> {
  const filter = `scale=${width}:${height}:force_original_aspect_ratio=increase:flags=lanczos,crop=${width}:${height}`;
  const raw = await runTool(
    ffmpegPath(),
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      path,
      '-frames:v',
      `${maxFrames}`,
      '-vf',
      filter,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      'pipe:1',
    ],
    undefined,
    120_000,
  ).catch((error: unknown) => {
    throw new MediaError('Corrupt', `${path} could not be decoded as a video: ${(error as Error).message}`, {
      cause: error,
    });
  });
  const frameBytes = width * height * 3;
  const count = Math.floor(raw.length / frameBytes);
  if (count === 0) throw new MediaError('Corrupt', `${path} holds no decodable video frames`);
  return { width, height, count, rgb: new Uint8Array(raw.buffer, raw.byteOffset, count * frameBytes) };
}
