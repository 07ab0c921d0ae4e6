import { z } from 'zod';
import { GenerationRequest } from './request.ts';

/** Queue names; one map drives producers and consumers. */
export const JobName = { Generate: 'generate', Deliver: 'deliver' } as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

/** Where a request came from and where its result goes: enough to post without the (short-lived) interaction. */
export const Origin = z.object({
  platform: z.enum(['discord', 'slack', 'local', 'cli']),
  workspaceId: z.string().min(1),
  userId: z.string().min(1),
  channelId: z.string().optional(),
  messageId: z.string().optional(),
  threadId: z.string().optional(),
  ephemeral: z.boolean().default(false),
});
export type Origin = z.infer<typeof Origin>;

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
      parameters: z.record(z.string(), z.unknown()),
      gpuSeconds: z.number().nonnegative(),
      frames: z.int().positive(),
      bytes: z.int().positive(),
      workerId: z.string(),
    }),
    z.object({ status: z.literal('failed'), code: z.string(), message: z.string() }),
    z.object({ status: z.literal('cancelled') }),
  ]),
});
export type DeliverJobData = z.infer<typeof DeliverJobData>;

export interface JobDataMap {
  [JobName.Generate]: GenerateJobData;
  [JobName.Deliver]: DeliverJobData;
}

/** Parses a payload read back from Redis; `undefined` for anything that is not a known version of `name`. */
export function parseJobData<TName extends JobName>(
  name: TName,
  data: unknown,
): { ok: true; value: JobDataMap[TName] } | { ok: false; reason: string } {
  const version = (data as { v?: unknown } | null)?.v;
  if (version !== 1)
    return {
      ok: false,
      reason: `unsupported ${name} payload version ${JSON.stringify(version)}; this worker reads version 1`,
    };
  const schema = name === JobName.Generate ? GenerateJobData : DeliverJobData;
  const parsed = schema.safeParse(data);
  if (!parsed.success)
    return {
      ok: false,
      reason: `malformed ${name} payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    };
  return { ok: true, value: parsed.data as JobDataMap[TName] };
}
