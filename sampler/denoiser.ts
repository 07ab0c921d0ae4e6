import type { Tensor } from './tensor.ts';

/** What the sampler hands the model at one step. */
export interface DenoiserInput {
  /** `[1, C, F, h, w]` latents as the model should see them (bf16-rounded when the pack computes in bf16). */
  readonly sample: Tensor;
  /** `[F]` per-frame model timesteps (the "vectorized timestep"), 0..1000. */
  readonly frameTimesteps: Float32Array;
  /** Whether the negative (unconditional) prediction is needed: false when the guidance scale is 1. */
  readonly withNegative: boolean;
  /** 0-based step index and the step count, for logs and cost accounting. */
  readonly stepIndex: number;
  readonly numInferenceSteps: number;
}

/** The model's predictions of the velocity `ε − x₀`, `[1, C, F, h, w]` each. */
export interface DenoiserOutput {
  readonly positive: Float32Array;
  /** Present exactly when `withNegative` was asked for. */
  readonly negative?: Float32Array;
}

/**
 * The port through which the sampler calls a model. Implementations run the positive and negative prompt (the
 * runtime batches both into one call where the model allows) and must honour `signal`.
 */
export interface Denoiser {
  predict(input: DenoiserInput, signal?: AbortSignal): Promise<DenoiserOutput>;
}
