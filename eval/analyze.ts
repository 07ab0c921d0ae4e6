import { COLORS, type ColorName } from './palette.ts';

/** Frames as `[T·H·W·3]` RGB bytes. */
export interface ClipFrames {
  readonly width: number;
  readonly height: number;
  readonly count: number;
  readonly rgb: Uint8Array;
}

export interface Verdict {
  readonly color: ColorName | null;
  /** "moves up left", "moves right", …, "static", or "none" when no object was found in enough frames. */
  readonly direction: string;
  readonly dx: number;
  readonly dy: number;
}

const BORDER = 4;
const MASK_DIST = 60;
const MIN_AREA = 20;
const MIN_MOVE = 4;
const DIAG = 0.4;

/**
 * Names the colour and direction of the one moving object in a clip: the algorithm of training/analyze.py, step for
 * step, so the product's evaluation and the training-time figures measure the same thing.
 *
 * 1. Background of each frame = per-channel median of the outer 4-pixel border. 2. Object = pixels farther than 60
 * (RGB distance) from it. 3. A frame counts with ≥ 20 object pixels; its centroid uses pixel centres. 4. Colour =
 * palette colour nearest the mean object colour. 5. Least-squares slopes of the centroid over time give the
 * displacement; under 4 px is static; each axis counts when it is at least 0.4 of the larger one.
 */
export function analyzeClip(clip: ClipFrames): Verdict {
  const track = trackObject(clip);
  const found = track.flatMap((point, t) => (point === null ? [] : [{ t, ...point }]));
  const frames = clip.count;
  if (found.length < frames / 2 || found.length < 2) return { color: null, direction: 'none', dx: 0, dy: 0 };
  const ts = found.map((p) => p.t);
  const cxs = found.map((p) => p.x);
  const cys = found.map((p) => p.y);
  // weighted by pixel count: the mean of every object pixel of the clip, not of the per-frame means
  const pixels = found.reduce((n, p) => n + p.pixels, 0);
  const mean = [0, 1, 2].map((c) => found.reduce((s, p) => s + (p.rgb[c] as number) * p.pixels, 0) / pixels);
  const color = nearestColor(mean);
  const dx = slope(ts, cxs) * (frames - 1);
  const dy = slope(ts, cys) * (frames - 1);
  const big = Math.max(Math.abs(dx), Math.abs(dy));
  if (big < MIN_MOVE) return { color, direction: 'static', dx, dy };
  const parts = ['moves'];
  if (Math.abs(dy) >= DIAG * big) parts.push(dy < 0 ? 'up' : 'down');
  if (Math.abs(dx) >= DIAG * big) parts.push(dx < 0 ? 'left' : 'right');
  return { color, direction: parts.join(' '), dx, dy };
}

/** The object in one frame: its centroid (pixel centres), its pixel count and its mean colour. */
export interface ObjectPoint {
  readonly x: number;
  readonly y: number;
  readonly pixels: number;
  readonly rgb: readonly [number, number, number];
}

/**
 * Steps 1–3 of {@link analyzeClip} per frame: the object of each frame, or null where fewer than 20 pixels stand out
 * from the border's median. The chain evaluation follows the subject's position and colour with it.
 */
export function trackObject(clip: ClipFrames): (ObjectPoint | null)[] {
  const { width: w, height: h, count: frames, rgb } = clip;
  const track: (ObjectPoint | null)[] = [];
  for (let t = 0; t < frames; t++) {
    const base = t * w * h * 3;
    const bg = borderMedian(rgb, base, w, h);
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sr = 0;
    let sg = 0;
    let sb = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = base + (y * w + x) * 3;
        const r = rgb[i] as number;
        const g = rgb[i + 1] as number;
        const b = rgb[i + 2] as number;
        const d = Math.hypot(r - (bg[0] as number), g - (bg[1] as number), b - (bg[2] as number));
        if (d > MASK_DIST) {
          n++;
          sx += x + 0.5;
          sy += y + 0.5;
          sr += r;
          sg += g;
          sb += b;
        }
      }
    }
    track.push(n >= MIN_AREA ? { x: sx / n, y: sy / n, pixels: n, rgb: [sr / n, sg / n, sb / n] } : null);
  }
  return track;
}

/** The palette colour nearest an RGB triple (Euclidean). */
export function nearestColor(rgb: readonly number[]): ColorName {
  let color: ColorName = 'red';
  let best = Number.POSITIVE_INFINITY;
  for (const [name, value] of Object.entries(COLORS) as [ColorName, readonly number[]][]) {
    const d = colorDistance(rgb, value);
    if (d < best) {
      best = d;
      color = name;
    }
  }
  return color;
}

/** Euclidean distance between two RGB triples, 0..441. */
export function colorDistance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(
    (a[0] as number) - (b[0] as number),
    (a[1] as number) - (b[1] as number),
    (a[2] as number) - (b[2] as number),
  );
}

/** Per-channel median of the border pixels of one frame (each pixel once), like numpy's median (mean of the middle two). */
function borderMedian(rgb: Uint8Array, base: number, w: number, h: number): number[] {
  const channels: number[][] = [[], [], []];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (y >= BORDER && y < h - BORDER && x >= BORDER && x < w - BORDER) continue;
      const i = base + (y * w + x) * 3;
      for (let c = 0; c < 3; c++) (channels[c] as number[]).push(rgb[i + c] as number);
    }
  }
  return channels.map((values) => {
    values.sort((a, b) => a - b);
    const mid = values.length >> 1;
    return values.length % 2 === 1
      ? (values[mid] as number)
      : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
  });
}

function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** PSNR in dB between two equal-sized byte images (peak 255). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`psnr needs equal sizes, got ${a.length} and ${b.length}`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += ((a[i] as number) - (b[i] as number)) ** 2;
  const mse = se / a.length;
  return mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse);
}

/** Mean absolute byte difference between frame `i` of one clip and frame `j` of another. */
export function frameDifference(a: ClipFrames, i: number, b: ClipFrames, j: number): number {
  const size = a.width * a.height * 3;
  let total = 0;
  for (let k = 0; k < size; k++) total += Math.abs((a.rgb[i * size + k] as number) - (b.rgb[j * size + k] as number));
  return total / size;
}

/** Mean absolute difference between consecutive frames of a clip (temporal smoothness; lower is smoother). */
export function meanStepDifference(clip: ClipFrames): number {
  let total = 0;
  for (let t = 1; t < clip.count; t++) total += frameDifference(clip, t - 1, clip, t);
  return clip.count > 1 ? total / (clip.count - 1) : 0;
}

/** One frame of a clip as its own bytes. */
export function frameBytes(clip: ClipFrames, index: number): Uint8Array {
  const size = clip.width * clip.height * 3;
  return clip.rgb.subarray(index * size, (index + 1) * size);
}
