/**
 * Platform-neutral contracts: what users may ask for, the job payloads that cross Redis, and the pure cost model.
 * Parsed by producers and again by consumers. Imports nothing of ours and does no I/O.
 */

export {
  type ChatCommand,
  type CommandOptions,
  LONG_OPTION_NAMES,
  type LongOptions,
  OPTION_NAMES,
  parseChatCommand,
  parseCommandArguments,
  parseLongArguments,
} from './chat-command.ts';
export { type CostModel, estimateSeconds, type MeasuredRun, predictSeconds, tokensOf } from './cost.ts';
export { InfrastructureError, InfrastructureErrorCode, type Parsed, UserError, UserErrorCode } from './errors.ts';
export {
  DeliverJobData,
  GenerateJobData,
  GenerateProgress,
  GenerateResult,
  JobContract,
  type JobDataMap,
  JobName,
  type JobProgressMap,
  type JobResultMap,
  parseJobData,
  parseJobProgress,
  salvageJobData,
} from './jobs.ts';
export {
  ChainLink,
  ChainProgress,
  ChainResult,
  FinishedSegment,
  joinedFrames,
  LONG_DEFAULT_MAX_SEGMENTS,
  LONG_MAX_SECONDS,
  type LongAsk,
  type LongPack,
  type LongPlan,
  type LongShape,
  longAsk,
  parseSegmentJobId,
  parseStoryboard,
  planLong,
  STORYBOARD_MAX_CHARS,
  segmentJobId,
} from './long.ts';
export {
  DiscordOrigin,
  Origin,
  type OriginAddress,
  type OriginPlatform,
  parseOrigin,
  SlackOrigin,
  WebOrigin,
} from './origin.ts';
export {
  ClipRef,
  GenerationRequest,
  type GenerationRequestInput,
  InputRef,
  LIMITS,
  parseGenerationRequest,
  Task,
} from './request.ts';
export { parseStoredJobExtras, type StoredJobExtras } from './stored-job.ts';
