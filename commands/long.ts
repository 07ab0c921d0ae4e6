import { z } from 'zod';
import { type Parsed, UserError } from './errors.ts';

/**
 * /long: one request made into a chain of segments, each an extend of the one before from its exact latents. Pure
 * planning (how many segments, how many frames) and the contract pieces the chain's jobs carry; the core queues
 * the chain (bot/core/long.ts), the worker runs each segment (worker/process-generate.ts).
 */

/** The longest video one request may ask for, seconds at the pack's frame rate. */
export const LONG_MAX_SECONDS = 60;
/** Operators' default cap on segments per request (bot setting `LONG_MAX_SEGMENTS`). */
export const LONG_DEFAULT_MAX_SEGMENTS = 12;

/** What the pack says about clips, as the planner needs it. */
export interface LongPack {
  readonly fps: number;
  readonly frameCounts: readonly number[];
  readonly defaultFrames: number;
  /** Pixel frames per latent frame after the first (4 for Wan's VAE). */
  readonly temporalFactor: number;
  /** Latent frames extend carries over by default (the pack's `noiseMultipliers.extend.frames`). */
  readonly defaultOverlap: number;
}

/** How long, in one of two ways, and with what prompts. */
export interface LongShape {
  readonly prompt?: string;
  readonly storyboard?: readonly string[];
  readonly seconds?: number;
  readonly segments?: number;
  readonly segmentFrames?: number;
  readonly overlap?: number;
}

export interface LongPlan {
  readonly segments: number;
  /** Pixel frames each segment makes (its MP4 holds them all). */
  readonly segmentFrames: number;
  /** Latent frames each segment after the first carries over from the one before. */
  readonly overlap: number;
  /**
   * Leading frames of every segment after the first that repeat the end of the one before (the carried latents
   * decode to `1 + temporalFactor·(overlap − 1)` frames): dropped when the segments are joined.
   */
  readonly repeatedFrames: number;
  /** Frames of the joined clip: `segmentFrames + (segments − 1)·(segmentFrames − repeatedFrames)`. */
  readonly totalFrames: number;
  readonly seconds: number;
  /** The prompt of each segment, in order. */
  readonly prompts: readonly string[];
}

/** Frames of `segments` joined segments. */
export function joinedFrames(segments: number, segmentFrames: number, repeatedFrames: number): number {
  return segmentFrames + (segments - 1) * (segmentFrames - repeatedFrames);
}

/**
 * The chain for a request on a pack, or a refusal naming the option: exactly one of `prompt` and `storyboard`; a
 * storyboard sets the segment count (seconds or segments, when also given, must agree with it); otherwise seconds
 * (up to 60) or segments; `maxSegments` is the operator's cap.
 */
export function planLong(shape: LongShape, pack: LongPack, maxSegments: number): Parsed<LongPlan> {
  const refuse = (message: string): Parsed<LongPlan> => ({ ok: false, error: new UserError('InvalidOption', message) });
  const storyboard = shape.storyboard?.map((p) => p.trim());
  const prompt = shape.prompt?.trim();
  if ((prompt === undefined || prompt === '') === (storyboard === undefined))
    return refuse('give one prompt for the whole video or a storyboard (a prompt per segment), not both or neither');
  if (storyboard !== undefined && (storyboard.length === 0 || storyboard.some((p) => p === '')))
    return refuse('a storyboard needs one non-empty prompt per segment');
  if (shape.seconds !== undefined && shape.segments !== undefined)
    return refuse('say how long in seconds or in segments, not both');

  const segmentFrames = shape.segmentFrames ?? pack.defaultFrames;
  if (!pack.frameCounts.includes(segmentFrames))
    return refuse(`segment frames must be one of ${pack.frameCounts.join(', ')}; got ${segmentFrames}`);
  const overlap = shape.overlap ?? pack.defaultOverlap;
  const repeatedFrames = 1 + pack.temporalFactor * (overlap - 1);
  const latentFrames = (segmentFrames - 1) / pack.temporalFactor + 1;
  if (!Number.isInteger(overlap) || overlap < 1 || overlap >= latentFrames)
    return refuse(`overlap must be 1 to ${latentFrames - 1} latent frames for ${segmentFrames}-frame segments`);
  const fresh = segmentFrames - repeatedFrames;
  const segmentsFor = (seconds: number) => 1 + Math.max(0, Math.ceil((seconds * pack.fps - segmentFrames) / fresh));
  const most = segmentsFor(LONG_MAX_SECONDS);

  let segments: number;
  if (shape.seconds !== undefined) {
    if (!(shape.seconds > 0) || shape.seconds > LONG_MAX_SECONDS)
      return refuse(`seconds must be more than 0 and at most ${LONG_MAX_SECONDS}; got ${shape.seconds}`);
    segments = segmentsFor(shape.seconds);
  } else if (shape.segments !== undefined) {
    if (!Number.isInteger(shape.segments) || shape.segments < 1)
      return refuse(`segments must be a whole number of at least 1; got ${shape.segments}`);
    if (shape.segments > most)
      return refuse(
        `${shape.segments} segments of ${segmentFrames} frames run past ${LONG_MAX_SECONDS} s; at most ${most}`,
      );
    segments = shape.segments;
  } else if (storyboard !== undefined) {
    segments = storyboard.length;
  } else {
    return refuse(`say how long: seconds (up to ${LONG_MAX_SECONDS}) or a number of segments`);
  }
  if (storyboard !== undefined && storyboard.length !== segments)
    return refuse(
      `the storyboard has ${storyboard.length} prompts but the video needs ${segments} segments; give one prompt per segment`,
    );
  if (segments > maxSegments)
    return refuse(
      `a long video is at most ${maxSegments} segments here (${joinedFrames(maxSegments, segmentFrames, repeatedFrames)} frames, ` +
        `about ${Math.floor(joinedFrames(maxSegments, segmentFrames, repeatedFrames) / pack.fps)} s); this one needs ${segments}. ` +
        'Ask for fewer seconds or segments.',
    );
  const totalFrames = joinedFrames(segments, segmentFrames, repeatedFrames);
  return {
    ok: true,
    value: {
      segments,
      segmentFrames,
      overlap,
      repeatedFrames,
      totalFrames,
      seconds: totalFrames / pack.fps,
      prompts: storyboard ?? Array.from({ length: segments }, () => prompt as string),
    },
  };
}

/** BullMQ id of segment `index` (1-based) of the chain of job `jobId`; custom ids may not contain `:`. */
export function segmentJobId(jobId: string, index: number): string {
  return `${jobId}-seg${index}`;
}

/** The chain job and segment a BullMQ id names, or undefined for any other id. */
export function parseSegmentJobId(id: string): { jobId: string; index: number } | undefined {
  const match = /^(.+)-seg(\d+)$/.exec(id);
  return match === null ? undefined : { jobId: match[1] as string, index: Number(match[2]) };
}

/** What a segment's `generate` job carries besides its request: its place in the chain. */
export const ChainLink = z.object({
  /** 1-based. */
  index: z.int().positive(),
  count: z.int().positive(),
  /** Leading frames of this segment that repeat the one before (0 for the first). */
  repeatedFrames: z.int().nonnegative(),
  /** The chain's prediction per segment, seconds: what the ETA of the segments after this one is built from. */
  segmentSeconds: z.number().nonnegative(),
});
export type ChainLink = z.infer<typeof ChainLink>;

/** One finished segment, as the chain passes it up (blob keys live a day, like every result). */
export const FinishedSegment = z.object({
  index: z.int().positive(),
  mp4Key: z.string(),
  latentsKey: z.string(),
  frames: z.int().positive(),
  repeatedFrames: z.int().nonnegative(),
  gpuSeconds: z.number().nonnegative(),
  bytes: z.int().positive(),
  prompt: z.string(),
  seed: z.int(),
  width: z.int().positive(),
  height: z.int().positive(),
  fps: z.number().positive(),
  workerId: z.string(),
});
export type FinishedSegment = z.infer<typeof FinishedSegment>;

/**
 * What every segment returns: the segments finished so far (its own last), and why the chain stopped if it did —
 * a segment after a stop does no work and passes this on, so the chain's end (the delivery) always runs.
 */
export const ChainResult = z.object({
  index: z.int().positive(),
  count: z.int().positive(),
  segments: z.array(FinishedSegment),
  stopped: z.object({ reason: z.enum(['cancelled', 'failed']), code: z.string(), message: z.string() }).optional(),
});
export type ChainResult = z.infer<typeof ChainResult>;

/** Progress of a segment, with its place and the chain's ETA (this segment's rest plus the segments after it). */
export const ChainProgress = z.object({
  jobId: z.string().min(1),
  index: z.int().positive(),
  count: z.int().positive(),
  chainEtaMs: z.number().nonnegative(),
});
export type ChainProgress = z.infer<typeof ChainProgress>;

/**
 * The most a storyboard form takes, characters: Discord's paragraph text input holds 4,000, Slack's plain-text
 * input 3,000; each platform's form is capped at its own and this one, and the core checks each prompt again.
 */
export const STORYBOARD_MAX_CHARS = 4000;

/** A storyboard as typed in a form: one prompt per line, in order; blank lines and surrounding spaces left out. */
export function parseStoryboard(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** What a text front end's `/long` options and words (or a storyboard form) ask of the core's `long()`. */
export interface LongAsk {
  prompt?: string;
  storyboard?: string[];
  seconds?: number;
  segments?: number;
  seed?: number;
  steps?: number;
  guidance?: number;
  negativePrompt?: string;
  segmentFrames?: number;
}

/**
 * The request shape of `/long`: a storyboard (its text, one prompt per line) when one was typed, else the prompt
 * (a form's single line with seconds or segments is a prompt too); `frames` is each segment's frame count; options
 * /long has no use for are left out. Options left out stay out, so the core's defaults and checks apply.
 */
export function longAsk(
  options: {
    seconds?: number;
    segments?: number;
    seed?: number;
    steps?: number;
    guidance?: number;
    negativePrompt?: string;
    frames?: number;
  },
  text: { prompt?: string; storyboard?: string },
): LongAsk {
  const lines = text.storyboard === undefined ? [] : parseStoryboard(text.storyboard);
  // One line in the form with a length asked for is one prompt for the whole video, not a one-segment storyboard.
  const single = lines.length === 1 && (options.seconds !== undefined || options.segments !== undefined);
  const prompt = (single ? lines[0] : text.prompt)?.trim() ?? '';
  const storyboard = single ? [] : lines;
  const picked = {
    seconds: options.seconds,
    segments: options.segments,
    seed: options.seed,
    steps: options.steps,
    guidance: options.guidance,
    negativePrompt: options.negativePrompt,
    segmentFrames: options.frames,
  };
  return {
    ...Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined)),
    ...(storyboard.length > 0 ? { storyboard } : prompt === '' ? {} : { prompt }),
  };
}
