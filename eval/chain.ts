import type { Frames } from '../media/mp4.ts';
import { generate } from '../worker/generate.ts';
import type { PusaModel } from '../worker/runtime/model.ts';
import { analyzeClip, colorDistance, frameDifference, meanStepDifference, trackObject } from './analyze.ts';
import { COLORS } from './palette.ts';
import { heldOutScenes, promptFor, type Scene } from './scenes.ts';

/** How many chains, and how many segments each (one text-to-video clip, then `segments − 1` extensions). */
export interface ChainSizes {
  readonly chains: number;
  readonly segments: number;
}

/** Issue [15]: twelve segments, the length a /long video is made of. */
export const CHAIN_SIZES: ChainSizes = { chains: 4, segments: 12 };
/**
 * Held-out like the rest of the evaluation (≥ 9,500,000) and clear of the other metrics' seeds (9,500,000 +
 * 0…399): chain c draws its scene from `heldOutScenes(CHAIN_SEED, …)[c]` and segment s samples with seed
 * `CHAIN_SEED + 100·c + s`.
 */
export const CHAIN_SEED = 9_510_000;
/**
 * Pixels the centroid may move across a join and still count as the same subject continuing. On pusa-mini the joins
 * fall into two clear groups, ≤ 2.2 px (the shape moving on) and ≥ 14 px (a new shape appearing), so any bound in
 * between reads them alike.
 */
export const CONTINUOUS_JUMP = 5;

/** One chain as measured, for `npm run eval -- --json`. */
export interface ChainRecord {
  readonly prompt: string;
  readonly seeds: readonly number[];
  /** Per join j (segment j → j + 1). */
  readonly seamRatios: readonly number[];
  /** Per join: the subject's centroid jump in pixels, null where either side shows no object. */
  readonly centroidJumps: readonly (number | null)[];
  /** Per segment: the colour the analyzer reads, null where it finds no object. */
  readonly colors: readonly (string | null)[];
  readonly directions: readonly string[];
}

export interface ChainMetrics {
  readonly sizes: ChainSizes;
  /** Seam ratio (the extend metric's definition) over every join of every chain; `perJoin` is the mean per join index. */
  readonly seamRatio: { mean: number; max: number; perJoin: number[] };
  /** Share of segments read as the prompted colour, over all of them and per segment index. */
  readonly colorKept: { all: number; perSegment: number[] };
  /** Mean RGB distance (0..441) of the subject's mean colour from the prompted palette colour, per segment index. */
  readonly colorDistance: number[];
  /** Share of chains whose segment s still moves in the prompted direction. */
  readonly directionKept: number[];
  /** Share of frames in which the analyzer finds an object, per segment index. */
  readonly presence: number[];
  /**
   * The subject's centroid across joins, in pixels. A join is `continuous` when both its sides show the object and the
   * centroid moves at most {@link CONTINUOUS_JUMP} from the last frame before it to the first after it; the others
   * are pop-ins (the object gone or at the edge before, a new one elsewhere after). `joinJump` is the mean move at
   * the continuous joins, `withinStep` the mean frame-to-frame move inside segments, `ratio` = joinJump ÷ withinStep
   * (≈ 1: the join moves the subject like any other frame); `maxJump` the largest move at any join.
   */
  readonly centroid: {
    continuous: number;
    joins: number;
    joinJump: number;
    maxJump: number;
    withinStep: number;
    ratio: number;
  };
  /** Mean distance (px) of the subject's centroid from the frame's centre, per segment index: drift toward an edge. */
  readonly centreOffset: number[];
  /** Mean frame brightness (0..255) of segment s minus segment 0's, averaged over chains; `maxDrift` the largest |·|. */
  readonly brightness: { perSegment: number[]; maxDrift: number };
  readonly records: readonly ChainRecord[];
}

/**
 * Drift over a chain of extensions (issue [15]): a text-to-video clip, then each segment continued from the previous
 * one's exact latents through the same `generate()` the worker runs for an extend job (task `extend`, the sidecar's
 * latents, the pack's default overlap and multipliers), with the same prompt throughout.
 */
export async function runChain(
  model: PusaModel,
  sizes: ChainSizes = CHAIN_SIZES,
  onSample?: (what: string) => void,
): Promise<ChainMetrics> {
  const { chains, segments } = sizes;
  const scenes = heldOutScenes(CHAIN_SEED, chains);
  const seams: number[][] = Array.from({ length: segments - 1 }, () => []);
  const kept: number[][] = Array.from({ length: segments }, () => []);
  const distances: number[][] = Array.from({ length: segments }, () => []);
  const directions: number[][] = Array.from({ length: segments }, () => []);
  const presence: number[][] = Array.from({ length: segments }, () => []);
  const drifts: number[][] = Array.from({ length: segments }, () => []);
  const offsets: number[][] = Array.from({ length: segments }, () => []);
  const jumps: number[] = [];
  const steps: number[] = [];
  const records: ChainRecord[] = [];

  for (const [c, scene] of scenes.entries()) {
    const prompt = promptFor(scene);
    const seeds = Array.from({ length: segments }, (_, s) => CHAIN_SEED + 100 * c + s);
    const record = {
      prompt,
      seeds,
      seamRatios: [] as number[],
      centroidJumps: [] as (number | null)[],
      colors: [] as (string | null)[],
      directions: [] as string[],
    };
    onSample?.(`chain ${c + 1}/${chains} 1/${segments}`);
    let previous = await generate(model, { task: 't2v', prompt, seed: seeds[0] as number });
    let frames: Frames = previous.video;
    let baseline = 0;
    for (let s = 0; s < segments; s++) {
      if (s > 0) {
        onSample?.(`chain ${c + 1}/${chains} ${s + 1}/${segments}`);
        const next = await generate(model, {
          task: 'extend',
          prompt,
          clips: [{ latents: previous.latents, frames }],
          seed: seeds[s] as number,
        });
        // extend delivers the earlier clip and then the new frames: the seam lies between them
        const seam = frameDifference(next.video, frames.count - 1, next.video, frames.count);
        const ratio = seam / Math.max(1e-6, meanStepDifference(frames));
        seams[s - 1]?.push(ratio);
        record.seamRatios.push(ratio);
        const fresh = sliceFrames(next.video, frames.count);
        const before = trackObject(sliceFrames(frames, frames.count - 1)).at(0);
        const after = trackObject(sliceFrames(fresh, 0, 1)).at(0);
        const jump = before != null && after != null ? Math.hypot(after.x - before.x, after.y - before.y) : null;
        if (jump !== null) jumps.push(jump);
        record.centroidJumps.push(jump);
        previous = next;
        frames = fresh;
      }
      const figures = segmentFigures(frames, scene);
      record.colors.push(figures.color);
      record.directions.push(figures.direction);
      kept[s]?.push(figures.color === scene.color ? 1 : 0);
      directions[s]?.push(figures.direction === scene.move ? 1 : 0);
      presence[s]?.push(figures.presence);
      if (figures.colorDistance !== null) distances[s]?.push(figures.colorDistance);
      offsets[s]?.push(...figures.offsets);
      steps.push(...figures.steps);
      if (s === 0) baseline = figures.brightness;
      drifts[s]?.push(figures.brightness - baseline);
    }
    records.push(record);
  }

  const allSeams = seams.flat();
  const allKept = kept.flat();
  const allJumps = records.flatMap((r) => r.centroidJumps);
  const continuous = jumps.filter((j) => j <= CONTINUOUS_JUMP);
  const joinJump = mean(continuous);
  const withinStep = mean(steps);
  const perSegmentDrift = drifts.map(mean);
  return {
    sizes,
    seamRatio: { mean: mean(allSeams), max: Math.max(...allSeams), perJoin: seams.map(mean) },
    colorKept: { all: mean(allKept), perSegment: kept.map(mean) },
    colorDistance: distances.map(mean),
    directionKept: directions.map(mean),
    presence: presence.map(mean),
    centroid: {
      continuous: continuous.length / allJumps.length,
      joins: allJumps.length,
      joinJump,
      maxJump: Math.max(...jumps),
      withinStep,
      ratio: joinJump / Math.max(1e-6, withinStep),
    },
    centreOffset: offsets.map(mean),
    brightness: { perSegment: perSegmentDrift, maxDrift: Math.max(...drifts.flat().map(Math.abs)) },
    records,
  };
}

/** What one segment shows of its subject: colour, direction, where it is, and how bright the frames are. */
function segmentFigures(frames: Frames, scene: Scene) {
  const verdict = analyzeClip(frames);
  const track = trackObject(frames);
  const found = track.filter((p) => p !== null);
  const pixels = found.reduce((n, p) => n + p.pixels, 0);
  // the mean of every object pixel of the segment, as analyzeClip names its colour
  const rgb = [0, 1, 2].map((k) => found.reduce((sum, p) => sum + (p.rgb[k] as number) * p.pixels, 0) / pixels);
  const steps: number[] = [];
  for (let t = 1; t < track.length; t++) {
    const a = track[t - 1];
    const b = track[t];
    if (a != null && b != null) steps.push(Math.hypot(b.x - a.x, b.y - a.y));
  }
  let bytes = 0;
  for (const v of frames.rgb) bytes += v;
  return {
    color: verdict.color,
    direction: verdict.direction,
    presence: found.length / track.length,
    colorDistance: found.length > 0 ? colorDistance(rgb, COLORS[scene.color]) : null,
    offsets: found.map((p) => Math.hypot(p.x - frames.width / 2, p.y - frames.height / 2)),
    steps,
    brightness: bytes / frames.rgb.length,
  };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Frames `from` up to `to` (exclusive) of a clip, sharing its bytes. */
function sliceFrames(clip: Frames, from: number, to = clip.count): Frames {
  const size = clip.width * clip.height * 3;
  return { width: clip.width, height: clip.height, count: to - from, rgb: clip.rgb.subarray(from * size, to * size) };
}
