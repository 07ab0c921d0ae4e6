/**
 * Platform-neutral contracts: what users may ask for, the job payloads that cross Redis, and the pure cost model.
 * Parsed by producers and again by consumers. Imports nothing of ours and does no I/O.
 */

export {
  type ChatCommand,
  type CommandOptions,
  OPTION_NAMES,
  parseChatCommand,
  parseCommandArguments,
} from './chat-command.ts';
export { type CostModel, estimateSeconds, type MeasuredRun, predictSeconds, tokensOf } from './cost.ts';
export { type Parsed, UserError, UserErrorCode } from './errors.ts';
export { DeliverJobData, GenerateJobData, type JobDataMap, JobName, Origin, parseJobData } from './jobs.ts';
export {
  ClipRef,
  GenerationRequest,
  type GenerationRequestInput,
  InputRef,
  LIMITS,
  parseGenerationRequest,
  Task,
} from './request.ts';
