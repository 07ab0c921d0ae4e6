import { z } from 'zod';
import { ChainLink, ChainProgress, ChainResult } from './long.ts';
import { Origin } from './origin.ts';
import { GenerationRequest } from './request.ts';

/**
 * Queue names, each also the name of the one kind of job its queue holds. `JobContract` says what each carries; the
 * producers' queues, the consumers' parses and the progress readers all take their types from it.
 */
export const JobName = { Generate: 'generate', Deliver: 'deliver' } as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

/**
 * `generate` job payload, version 1. Bytes never ride in it: images and latents are separate Redis keys with a TTL,
 * referenced from the request. A worker refuses any other version without retrying.
 */
export const GenerateJobData = z.object({
  v: z.literal(1),
  jobId: z.string().min(1),
  requestId: z.string().min(1),
  request: GenerationRequest,
  origin: Origin,
  estimatedSeconds: z.number().nonnegative(),
  /** Upload limit of the destination (e.g. Discord's attachment size limit): the MP4 is re-encoded to fit. */
  maxBytes: z.int().positive().optional(),
  /**
   * A segment of a /long chain (commands/long.ts): `jobId` is then the chain's job (the store's, what cancel and
   * quota speak of), the BullMQ job id `segmentJobId(jobId, index)`, and an extend takes its clip from the segment
   * before (this job's child in the flow), not from `request.clips`.
   */
  chain: ChainLink.optional(),
});
export type GenerateJobData = z.infer<typeof GenerateJobData>;

/** `deliver` job payload, version 1: the outcome of a generate job, consumed by the bot that owns the origin. */
export const DeliverJobData = z.object({
  v: z.literal(1),
  jobId: z.string().min(1),
  requestId: z.string().min(1),
  origin: Origin,
  outcome: z.discriminatedUnion('status', [
    z.object({
      status: z.literal('succeeded'),
      mp4Key: z.string(),
      latentsKey: z.string(),
      /** The run's resolved parameters (everything needed to make it again); the clip's size, fps and seed at least. */
      parameters: z
        .object({ width: z.int().positive(), height: z.int().positive(), fps: z.number().positive(), seed: z.int() })
        .loose(),
      gpuSeconds: z.number().nonnegative(),
      frames: z.int().positive(),
      bytes: z.int().positive(),
      workerId: z.string(),
    }),
    z.object({ status: z.literal('failed'), code: z.string(), message: z.string() }),
    z.object({ status: z.literal('cancelled') }),
    /**
     * The end of a /long chain: the root of its BullMQ flow, run once every segment below it has (its child's
     * return value holds the finished segments): join them, store the clip, charge what was made, post it.
     */
    z.object({ status: z.literal('chain'), segments: z.int().positive() }),
  ]),
});
export type DeliverJobData = z.infer<typeof DeliverJobData>;

/**
 * What a `generate` job's worker publishes as it runs (BullMQ `job.updateProgress`), read by the bot from queue
 * events and from the job itself (queue positions, a reloaded page).
 */
export const GenerateProgress = z.object({
  /** Sampler steps done, of `total`. */
  step: z.int().nonnegative(),
  total: z.int().positive(),
  /** The worker's estimate of the steps left, from this job's own step times, ms. */
  etaMs: z.number().nonnegative(),
  workerId: z.string(),
  /** Every few steps: a small latent→RGB preview, `width × height × 3` bytes in base64. */
  preview: z.object({ width: z.int().positive(), height: z.int().positive(), rgbBase64: z.string() }).optional(),
  /** A /long segment's place in its chain and the chain's ETA. */
  chain: ChainProgress.optional(),
});
export type GenerateProgress = z.infer<typeof GenerateProgress>;

/** What a `generate` job returns to BullMQ (its `returnvalue`); the clip itself goes to the bot on `deliver`. */
export const GenerateResult = z.object({
  jobId: z.string().min(1),
  /** Seconds from start to the delivery hand-off: what quotas charge. */
  gpuSeconds: z.number().nonnegative(),
  mp4Key: z.string(),
  latentsKey: z.string(),
  /** A /long segment: the chain so far (empty keys above when this segment did no work: the chain had stopped). */
  chain: ChainResult.optional(),
});
export type GenerateResult = z.infer<typeof GenerateResult>;

/**
 * The queue contract: per queue, the job data producers add (and consumers parse again: Redis outlives deploys), what
 * its processor returns, and the progress it publishes. `deliver` jobs return nothing and publish no progress.
 */
export const JobContract = {
  [JobName.Generate]: { data: GenerateJobData, result: GenerateResult, progress: GenerateProgress },
  [JobName.Deliver]: { data: DeliverJobData, result: z.void(), progress: z.never() },
} as const;

export type JobDataMap = { [TName in JobName]: z.infer<(typeof JobContract)[TName]['data']> };
export type JobResultMap = { [TName in JobName]: z.infer<(typeof JobContract)[TName]['result']> };
export type JobProgressMap = { [TName in JobName]: z.infer<(typeof JobContract)[TName]['progress']> };

/** Parses a payload read back from Redis; `ok: false` for anything that is not a known version of `name`. */
export function parseJobData<TName extends JobName>(
  name: TName,
  data: unknown,
): { ok: true; value: JobDataMap[TName] } | { ok: false; reason: string } {
  const version = typeof data === 'object' && data !== null && 'v' in data ? data.v : undefined;
  if (version !== 1)
    return {
      ok: false,
      reason: `unsupported ${name} payload version ${JSON.stringify(version)}; this worker reads version 1`,
    };
  const parsed = JobContract[name].data.safeParse(data);
  if (!parsed.success)
    return {
      ok: false,
      reason: `malformed ${name} payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    };
  // The schema picked by `name` is the one `JobDataMap[TName]` is inferred from; TypeScript cannot follow the index.
  return { ok: true, value: parsed.data as JobDataMap[TName] };
}

/**
 * Parses a job's progress as BullMQ hands it back (queue events, `job.progress`); `undefined` when there is none yet
 * (BullMQ's `0`) or it is not this contract's shape.
 */
export function parseJobProgress<TName extends JobName>(
  name: TName,
  progress: unknown,
): JobProgressMap[TName] | undefined {
  const parsed = JobContract[name].progress.safeParse(progress);
  // As in parseJobData: the schema is the one the map's entry is inferred from.
  return parsed.success ? (parsed.data as JobProgressMap[TName]) : undefined;
}

const Salvage = z
  .object({
    jobId: z.string().min(1).optional().catch(undefined),
    requestId: z.string().min(1).optional().catch(undefined),
    origin: Origin.optional().catch(undefined),
  })
  .catch({});

/**
 * The ids and origin of a payload `parseJobData` refused, each only when it is well formed: enough to fail the job
 * where it belongs and tell its owner, without trusting the rest.
 */
export function salvageJobData(data: unknown): { jobId?: string; requestId?: string; origin?: Origin } {
  const { jobId, requestId, origin } = Salvage.parse(data);
  return {
    ...(jobId === undefined ? {} : { jobId }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(origin === undefined ? {} : { origin }),
  };
}
