/** A pack's cost model: seconds per DiT call (guidance batched) as a linear function of tokens. */
export interface CostModel {
  readonly secondsPerStep: { readonly base: number; readonly perToken: number };
  readonly vaeDecodeSeconds?: number;
  readonly textEncodeSeconds?: number;
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
  return run.steps * perStep + (cost.vaeDecodeSeconds ?? 0) + (cost.textEncodeSeconds ?? 0);
}
