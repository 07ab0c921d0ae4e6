/**
 * The Pusa sampler core: pure TypeScript, no I/O, no clock, no global randomness. Shared by the worker, the CLI and
 * the tests. The behavioural contract is `../shared/spec/pusa-reference.md` §A.
 */
export { roundToBf16, toBf16 } from './bf16.ts';
export type { Denoiser, DenoiserInput, DenoiserOutput } from './denoiser.ts';
export { SamplerError, SamplerErrorCode } from './errors.ts';
export { type FrameMultiplier, frameSigmaDeltas, modelTimesteps, stepScheduleIndex } from './frame-timesteps.ts';
export {
  type Condition,
  type ConditioningPlan,
  type FrameGeometry,
  planExtend,
  planImageToVideo,
  planKeyframes,
  planStartEnd,
  planTextToVideo,
  planTransition,
  validatePlan,
} from './plan.ts';
export { createTorchGenerator, randn, type TorchGenerator } from './rng.ts';
export { type SampleOptions, type StepReport, sample } from './sample.ts';
export {
  createFlowMatchSchedule,
  type FlowMatchSchedule,
  type FlowMatchScheduleOptions,
  nearestScheduleIndex,
  sigmaAt,
} from './schedule.ts';
export { step, stepPerFrame } from './step.ts';
export { type LatentShape, latentShapeOf, numel, readLatentFrame, type Tensor, tensor } from './tensor.ts';
