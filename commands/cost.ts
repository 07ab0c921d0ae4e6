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
  const [pt, ph, pw] = run.patch ?? [1, 2, 2];
  const tokens = (run.latentFrames / pt) * (run.latentHeight / ph) * (run.latentWidth / pw);
  const perStep = cost.secondsPerStep.base + cost.secondsPerStep.perToken * tokens;
  return (
    run.steps * perStep +
    decodeSeconds(cost.vaeDecodeSeconds, 1 + 4 * (run.latentFrames - 1)) +
    (cost.textEncodeSeconds ?? 0)
  );
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
