import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaError } from './errors.ts';
import { ffmpegPath, runTool } from './ffmpeg.ts';
import { CRF_LADDER } from './mp4.ts';

/** One clip to join, and how many of its leading frames repeat the end of the clip before it. */
export interface JoinPart {
  readonly mp4: Uint8Array;
  readonly skipFrames: number;
}

/**
 * Joins clips of one size and frame rate into one MP4, dropping each part's leading `skipFrames` (a /long segment's
 * first frames decode the latents it carried over from the segment before, so they would show twice at the seam).
 * One ffmpeg run with a trim-and-concat filter graph: the frames stream through it, never all in memory at once. With
 * `maxBytes`, re-encodes at lower quality until the file fits, as `encodeMp4` does; past the lowest quality it fails
 * with a `Budget` error the caller can answer with a link instead.
 */
export async function joinClips(
  parts: readonly JoinPart[],
  options: { fps: number; maxBytes?: number; timeoutMs?: number },
): Promise<{ mp4: Buffer; crf: number }> {
  if (parts.length === 0) throw new MediaError('Encode', 'nothing to join');
  const dir = await mkdtemp(join(tmpdir(), 'pusa-join-'));
  try {
    const inputs: string[] = [];
    for (const [i, part] of parts.entries()) {
      const path = join(dir, `part-${i}.mp4`);
      await writeFile(path, part.mp4);
      inputs.push('-i', path);
    }
    const trims = parts
      .map((part, i) => `[${i}:v]trim=start_frame=${part.skipFrames},setpts=PTS-STARTPTS[v${i}]`)
      .join(';');
    const graph = `${trims};${parts.map((_, i) => `[v${i}]`).join('')}concat=n=${parts.length}:v=1:a=0[out]`;
    const out = join(dir, 'joined.mp4');
    for (const crf of CRF_LADDER) {
      await runTool(
        ffmpegPath(),
        [
          '-hide_banner',
          '-loglevel',
          'error',
          ...inputs,
          '-filter_complex',
          graph,
          '-map',
          '[out]',
          '-r',
          `${options.fps}`,
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
        undefined,
        options.timeoutMs ?? 600_000,
      ).catch((error: unknown) => {
        throw new MediaError('Encode', `joining ${parts.length} clips failed: ${(error as Error).message}`, {
          cause: error,
        });
      });
      const mp4 = await readFile(out);
      if (options.maxBytes === undefined || mp4.length <= options.maxBytes) return { mp4, crf };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  throw new MediaError(
    'Budget',
    `the joined clip does not fit in ${options.maxBytes} bytes even at the lowest quality`,
  );
}
