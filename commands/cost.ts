/**
 * A pack's cost model: seconds per DiT call (guidance batched) as a linear function of tokens, plus VAE decode
 * (a number, or seconds per pixel-frame count) and text encoding.
 */
export interface CostModel {
  readonly secondsPerStep: { readonly base: number; readonly perToken: number };
  readonly vaeDecodeSeconds?: number | Readonly<Record<string, number>> | undefined;
  readonly textEncodeSeconds?: number | undefined;
}

/** What a request costs before it runs: the figure reserved against quotas and used for ETAs. */
export function estimateSeconds(
  cost: CostModel,
  run: {
    steps: number;
    latentFrames: number;
    latentHeight: number;
    latentWidth: number;
    patch?: readonly [number, number, number];
  },
): number {
  const tokens = tokensOf(run);
  const perStep = cost.secondsPerStep.base + cost.secondsPerStep.perToken * tokens;
  return run.steps * perStep + otherSeconds(cost, 1 + 4 * (run.latentFrames - 1));
}

/** DiT tokens per step: latent frames × height × width over the patch (Wan's `[1, 2, 2]` by default). */
export function tokensOf(run: {
  latentFrames: number;
  latentHeight: number;
  latentWidth: number;
  patch?: readonly [number, number, number];
}): number {
  const [pt, ph, pw] = run.patch ?? [1, 2, 2];
  return (run.latentFrames / pt) * (run.latentHeight / ph) * (run.latentWidth / pw);
}

/** The pack's figure for everything but the sampler steps: text encoding and VAE decode, seconds. */
function otherSeconds(cost: CostModel, pixelFrames: number): number {
  return decodeSeconds(cost.vaeDecodeSeconds, pixelFrames) + (cost.textEncodeSeconds ?? 0);
}

/**
 * One finished job as a worker measured it: the times of its sampler steps and of the rest (text encoding, VAE,
 * MP4), with the shape it ran at, so that it can predict jobs of other shapes. `guidance` 1 runs one DiT call per
 * step instead of two.
 */
export interface MeasuredRun {
  /** `name@version` of the pack. */
  readonly pack: string;
  /** `cpu`, `cuda:0`, …: which kind of device ran it. */
  readonly device: string;
  readonly steps: number;
  readonly tokens: number;
  readonly guidance: number;
  readonly pixelFrames: number;
  /** Mean wall-clock seconds of one sampler step. */
  readonly stepSeconds: number;
  /** Wall-clock seconds of the job outside the sampler steps. */
  readonly otherSeconds: number;
}

/**
 * What a job will take, from the pack's cost model scaled by what recent jobs actually took: the median ratio of
 * measured to modelled step time (and, separately, of the rest), so one slow or fast outlier moves it little and a
 * pack whose figures came from another machine is corrected by this one's. Without measurements it is the cost
 * model alone (`measured: 0`). Seconds of wall-clock time, which is also what quotas charge.
 */
export function predictSeconds(
  cost: CostModel,
  run: { steps: number; tokens: number; guidance: number; pixelFrames: number },
  samples: readonly MeasuredRun[],
): { seconds: number; stepSeconds: number; measured: number } {
  const modelStep = (tokens: number, guidance: number) =>
    (cost.secondsPerStep.base + cost.secondsPerStep.perToken * tokens) * (guidance === 1 ? 0.5 : 1);
  const modelOther = (pixelFrames: number) => otherSeconds(cost, pixelFrames);
  const usable = samples.filter(
    (s) => s.steps > 0 && Number.isFinite(s.stepSeconds) && Number.isFinite(s.otherSeconds),
  );
  const step = modelStep(run.tokens, run.guidance);
  const other = modelOther(run.pixelFrames);
  if (usable.length === 0) return { seconds: run.steps * step + other, stepSeconds: step, measured: 0 };
  // A cost model of zeros (nothing measured when the pack was built) cannot be scaled: use the raw medians then.
  const stepSeconds =
    step > 0
      ? step * median(usable.map((s) => s.stepSeconds / Math.max(1e-9, modelStep(s.tokens, s.guidance))))
      : median(usable.map((s) => s.stepSeconds));
  const restSeconds =
    other > 0
      ? other * median(usable.map((s) => s.otherSeconds / Math.max(1e-9, modelOther(s.pixelFrames))))
      : median(usable.map((s) => s.otherSeconds));
  return { seconds: run.steps * stepSeconds + restSeconds, stepSeconds, measured: usable.length };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** VAE decode time for `frames` pixel frames: linear through the measured points (extrapolated past them). */
function decodeSeconds(table: CostModel['vaeDecodeSeconds'], frames: number): number {
  if (table === undefined) return 0;
  if (typeof table === 'number') return table;
  const points = Object.entries(table)
    .map(([k, v]) => [Number(k), v] as const)
    .filter(([k, v]) => Number.isFinite(k) && Number.isFinite(v))
    .sort((a, b) => a[0] - b[0]);
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined) return 0;
  if (points.length === 1 || last[0] === first[0]) return first[1];
  const slope = (last[1] - first[1]) / (last[0] - first[0]);
  return Math.max(0, first[1] + slope * (frames - first[0]));
}
