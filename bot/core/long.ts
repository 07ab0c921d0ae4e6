import { randomUUID } from 'node:crypto';
import type { FlowJob, FlowProducer } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type DeliverJobData,
  type GenerateJobData,
  GenerationRequest,
  JobName,
  type LongPlan,
  type Origin,
  type OriginAddress,
  planLong,
  segmentJobId,
  UserError,
} from '../../commands/index.ts';
import { MediaError } from '../../media/errors.ts';
import { type FitMode, normalizeImage } from '../../media/image.ts';
import type { Manifest } from '../../pack/manifest.ts';
import type { EnsureUserInput, EnsureWorkspaceInput, JobRecord, QuotaSnapshot, Store } from '../../prisma/types.ts';
import { BLOB_TTL_SECONDS, type BlobStore, packImage } from '../../queue/blobs.ts';
import { deliveryJobOptions } from '../../queue/delivery-retry.ts';
import { CANCEL_TTL_SECONDS, cancelChannel, cancelKey } from '../../queue/names.ts';
import type { ImageCheck } from './front-end.ts';
import { QueueUnavailableError } from './outage.ts';

/** What a front end hands the core for one /long request. */
export interface LongInput {
  /** Idempotency key: the platform's interaction id, so a retried interaction makes one chain. */
  readonly requestKey: string;
  readonly user: EnsureUserInput;
  readonly workspace: EnsureWorkspaceInput;
  readonly origin: OriginAddress;
  readonly request: LongRequest;
  /** Upload limit of the destination, bytes: every segment and the joined clip are fitted to it. */
  readonly maxBytes?: number;
  /** Conversations besides the origin's that the front end checked the user can read (see `Actor.seenIn`). */
  readonly seenIn?: readonly string[];
}

/**
 * How long and what: exactly one of `prompt` (every segment) and `storyboard` (a prompt per segment, in order; its
 * length is the number of segments); `seconds` (up to 60 at the pack's frame rate) or `segments`, needed with a
 * single prompt and, with a storyboard, agreeing with it. Options left out take the pack's defaults.
 */
export interface LongRequest {
  prompt?: string;
  storyboard?: string[];
  seconds?: number;
  segments?: number;
  /** Optional start image: the first segment is then image-to-video. */
  image?: { bytes: Buffer; name?: string };
  /** Segment k (1-based) samples with `seed + k − 1`; drawn when left out, and shown so the chain can be made again. */
  seed?: number;
  negativePrompt?: string;
  steps?: number;
  guidance?: number;
  size?: [number, number];
  /** Frames each segment makes, one of the pack's frame counts; the pack's default when left out. */
  segmentFrames?: number;
  /** Latent frames each segment carries over from the one before; the pack's extend default when left out. */
  overlap?: number;
  fit?: FitMode;
}

export type LongAnswer =
  | {
      ok: true;
      /** The chain's job: what cancel, info and the final delivery name. */
      jobId: string;
      requestId: string;
      segments: number;
      segmentFrames: number;
      /** Frames of the joined clip, and its length at the pack's frame rate. */
      totalFrames: number;
      seconds: number;
      seed: number;
      /** Where its first segment stands in the queue, and when the whole chain should be done. */
      position: number;
      etaSeconds: number;
      /** GPU seconds reserved for the whole chain; only finished segments are charged. */
      estimatedSeconds: number;
      duplicate: boolean;
    }
  | { ok: false; requestId: string; error: UserError };

/** What the front-end core lends the /long operation (its caches and estimates). */
export interface LongContext {
  readonly store: Store;
  readonly flows: FlowProducer | undefined;
  readonly blobs: BlobStore;
  readonly publisher: Redis;
  readonly prefix: string;
  readonly manifest: Manifest;
  readonly jobAttempts: number;
  readonly maxSegments: number;
  readonly imageCheck: ImageCheck | undefined;
  readonly now: () => Date;
  readonly draining: () => boolean;
  readonly queueAvailable: () => boolean;
  readonly ensureUser: (user: EnsureUserInput) => Promise<{ id: string }>;
  readonly ensureWorkspace: (workspace: EnsureWorkspaceInput) => Promise<{ id: string }>;
  readonly recentQuota: (userId: string, workspaceId: string) => Promise<QuotaSnapshot>;
  readonly priority: (quota: QuotaSnapshot) => number;
  readonly predict: (shape: {
    steps: number;
    frames: number;
    width: number;
    height: number;
    guidance: number;
  }) => Promise<{ seconds: number }>;
  readonly queueEstimate: (jobId: string, ownSeconds: number) => Promise<{ position: number; etaSeconds: number }>;
  readonly outageOf: (error: unknown) => UserError | undefined;
}

/** A drawn seed when none was given (as submit does), so segment seeds `seed + k − 1` stay in range. */
const drawLongSeed = () => Math.floor(Math.random() * 2 ** 31);

/**
 * /long: a request turned into a chain of segment jobs, a BullMQ flow. A flow runs children before their parent,
 * so the chain is nested: the root is the chain's delivery (deliver queue), its child segment N, whose child is
 * segment N − 1, down to segment 1, the only leaf, which runs first. Each segment reads the one before from its
 * child's return value (its exact latents) and returns the segments finished so far; the root joins them. A
 * segment's failure (its workers kept dying) is ignored by its parent (`ignoreDependencyOnFailure`), which then
 * passes the chain on as stopped, so the root always runs and delivers what was made.
 */
export function createLong(ctx: LongContext) {
  const { store, blobs, manifest } = ctx;
  const pack = {
    fps: manifest.fps,
    frameCounts: manifest.video.frameCounts,
    defaultFrames: manifest.video.defaultFrames,
    temporalFactor: manifest.latent.temporalFactor,
    defaultOverlap: manifest.defaults.noiseMultipliers.extend.frames,
  };

  async function long(input: LongInput): Promise<LongAnswer> {
    const requestId = randomUUID();
    if (ctx.draining())
      return {
        ok: false,
        requestId,
        error: new UserError(
          'Unavailable',
          'the bot is restarting and takes no new requests right now; please try again in a minute',
        ),
      };
    try {
      return await longOrThrow(input, requestId);
    } catch (error) {
      if (error instanceof UserError) return { ok: false, requestId, error };
      const outage = ctx.outageOf(error);
      if (outage !== undefined) return { ok: false, requestId, error: outage };
      throw error;
    }
  }

  async function longOrThrow(input: LongInput, requestId: string): Promise<LongAnswer> {
    const { request } = input;
    // 1. The chain's shape (segments, frames, prompts) and every segment's request, checked before anything else.
    const planned = planLong(
      {
        ...(request.prompt === undefined ? {} : { prompt: request.prompt }),
        ...(request.storyboard === undefined ? {} : { storyboard: request.storyboard }),
        ...(request.seconds === undefined ? {} : { seconds: request.seconds }),
        ...(request.segments === undefined ? {} : { segments: request.segments }),
        ...(request.segmentFrames === undefined ? {} : { segmentFrames: request.segmentFrames }),
        ...(request.overlap === undefined ? {} : { overlap: request.overlap }),
      },
      pack,
      ctx.maxSegments,
    );
    if (!planned.ok) throw planned.error;
    const plan = planned.value;
    const [width, height] = request.size ?? (manifest.video.sizes[0] as [number, number]);
    if (!manifest.video.sizes.some(([w, h]) => w === width && h === height))
      throw new UserError(
        'InvalidOption',
        `size must be one of ${manifest.video.sizes.map(([w, h]) => `${w}x${h}`).join(', ')} for ${manifest.name}; got ${width}x${height}`,
      );
    const seed = request.seed ?? drawLongSeed();
    const segmentRequests = plan.prompts.map((prompt, i) => {
      const parsed = GenerationRequest.safeParse(segmentRequest(plan, request, i + 1, prompt, seed, 'pending'));
      if (parsed.success) return parsed.data;
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new UserError(
        'InvalidOption',
        `${plan.segments > 1 ? `segment ${i + 1}: ` : ''}${where}${issue?.message ?? 'invalid request'}`,
      );
    });
    if (ctx.flows === undefined)
      throw new UserError('Unavailable', 'long videos are not set up on this bot; ask its operator');
    if (!ctx.queueAvailable()) throw new QueueUnavailableError('Redis is not connected');

    // 2. Who is asking; a retried interaction gets the chain it already made.
    const [user, workspace] = await Promise.all([ctx.ensureUser(input.user), ctx.ensureWorkspace(input.workspace)]);
    const requestKey = `${input.user.platform}:${input.user.externalId}:${input.requestKey}`;
    const existing = await store.jobByRequestKey(requestKey);
    if (existing !== null) return answer(existing, plan, seed, requestId, true);

    // 3. The start image, normalised and checked like submit's.
    let imageKey: string | undefined;
    if (request.image !== undefined) {
      const name = request.image.name ?? 'the start image';
      const normalized = await normalizeImage(request.image.bytes, { width, height, fit: request.fit ?? 'crop' }).catch(
        (error: unknown) => {
          if (error instanceof MediaError)
            throw new UserError('InvalidInput', `${name}: ${error.message.replace(/^the image /, '')}`);
          throw error;
        },
      );
      if (ctx.imageCheck !== undefined) {
        const verdict = await ctx.imageCheck({ width, height, rgb: normalized.rgb, name });
        if (!verdict.ok) throw new UserError('BlockedPrompt', `${name} was refused: ${verdict.reason}`);
      }
      imageKey = await blobs.put('image', packImage(width, height, normalized.rgb));
    }

    // 4. Reserve the whole chain (atomic in the store); segments are charged as they finish, at the chain's end.
    const segmentSeconds = (
      await ctx.predict({
        steps: request.steps ?? manifest.defaults.steps,
        frames: plan.segmentFrames,
        width,
        height,
        guidance: request.guidance ?? manifest.defaults.guidance,
      })
    ).seconds;
    const estimated = segmentSeconds * plan.segments;
    const origin: Origin = {
      ...input.origin,
      ephemeral: input.origin.ephemeral ?? false,
      workspaceId: workspace.id,
      userId: user.id,
    };
    const first = segmentRequests[0] as GenerationRequest;
    const reserved = await store.reserve({
      requestKey,
      userId: user.id,
      workspaceId: workspace.id,
      task: first.task === 'i2v' ? 'i2v' : 't2v',
      parameters: JSON.parse(
        JSON.stringify({
          ...first,
          images: [],
          requestId,
          seed,
          long: {
            segments: plan.segments,
            segmentFrames: plan.segmentFrames,
            overlap: plan.overlap,
            totalFrames: plan.totalFrames,
            prompts: plan.prompts,
          },
          ...(input.maxBytes === undefined ? {} : { maxBytes: input.maxBytes }),
        }),
      ),
      estimatedSeconds: Math.max(1, Math.ceil(estimated)),
      origin: JSON.parse(JSON.stringify(origin)),
      now: ctx.now(),
      // Every prompt of a storyboard meets the blocklist, not only the first.
      prompt: [...new Set(plan.prompts)].join('\n'),
    });
    if (!reserved.ok) {
      if (imageKey !== undefined) await blobs.delete(imageKey);
      const code =
        reserved.reason === 'banned'
          ? 'Banned'
          : reserved.reason === 'blocked-prompt'
            ? 'BlockedPrompt'
            : reserved.reason === 'queued-cap'
              ? 'QueueFull'
              : 'QuotaExceeded';
      throw new UserError(code, reserved.message, {
        reason: reserved.reason,
        ...(reserved.resetsAt ? { resetsAt: reserved.resetsAt.toISOString() } : {}),
      });
    }
    if (!reserved.created) return answer(reserved.job, plan, seed, requestId, true);

    // 5. The flow: the root (the chain's delivery) over segment N over … segment 1.
    const jobId = reserved.job.id;
    const priority = ctx.priority(await ctx.recentQuota(user.id, workspace.id));
    const segmentJob = (index: number): FlowJob => {
      const request = GenerationRequest.parse(
        segmentRequest(plan, input.request, index, plan.prompts[index - 1] as string, seed, jobId, imageKey),
      );
      const data: GenerateJobData = {
        v: 1,
        jobId,
        requestId,
        request,
        origin,
        estimatedSeconds: segmentSeconds,
        ...(input.maxBytes === undefined ? {} : { maxBytes: input.maxBytes }),
        chain: {
          index,
          count: plan.segments,
          repeatedFrames: index === 1 ? 0 : plan.repeatedFrames,
          segmentSeconds,
        },
      };
      return {
        name: JobName.Generate,
        queueName: JobName.Generate,
        data,
        opts: {
          jobId: segmentJobId(jobId, index),
          priority,
          attempts: ctx.jobAttempts,
          backoff: { type: 'exponential', delay: 2000 },
          // Kept while the chain may still need them (the root reads its child's value; a day, like the blobs).
          removeOnComplete: { age: BLOB_TTL_SECONDS },
          removeOnFail: { age: BLOB_TTL_SECONDS },
          ignoreDependencyOnFailure: true,
        },
        ...(index > 1 ? { children: [segmentJob(index - 1)] } : {}),
      };
    };
    const root: DeliverJobData = {
      v: 1,
      jobId,
      requestId,
      origin,
      outcome: { status: 'chain', segments: plan.segments },
    };
    try {
      await ctx.flows.add({
        name: JobName.Deliver,
        queueName: JobName.Deliver,
        data: root,
        opts: deliveryJobOptions(jobId),
        children: [segmentJob(plan.segments)],
      });
    } catch (error) {
      await store
        .fail(jobId, { code: 'Unavailable', message: 'the queue was unreachable', now: ctx.now() })
        .catch(() => undefined);
      throw new UserError(
        'Unavailable',
        'the job queue is unreachable right now; nothing was charged. Please try again in a minute.',
        { cause: (error as Error).message },
      );
    }
    return answer(reserved.job, plan, seed, requestId, false);
  }

  async function answer(
    job: JobRecord,
    plan: LongPlan,
    seed: number,
    requestId: string,
    duplicate: boolean,
  ): Promise<LongAnswer> {
    const { position, etaSeconds } = await ctx.queueEstimate(segmentJobId(job.id, 1), job.estimatedSeconds);
    const stored = job.parameters as { requestId?: unknown; seed?: unknown };
    return {
      ok: true,
      jobId: job.id,
      requestId: typeof stored.requestId === 'string' ? stored.requestId : requestId,
      segments: plan.segments,
      segmentFrames: plan.segmentFrames,
      totalFrames: plan.totalFrames,
      seconds: plan.seconds,
      seed: typeof stored.seed === 'number' ? stored.seed : seed,
      position,
      etaSeconds,
      estimatedSeconds: job.estimatedSeconds,
      duplicate,
    };
  }

  /**
   * Cancels a running chain (the caller checked access and status): the durable record first, then the pub/sub
   * cancel to whichever worker holds one of its segments. The segment running stops, the ones after it pass the
   * chain on without work, and the root delivers the segments finished so far, charged for those alone.
   */
  async function cancelChain(jobId: string, segments: number): Promise<{ ok: true; state: 'cancelling' }> {
    await ctx.publisher.set(cancelKey(ctx.prefix, jobId), '1', 'EX', CANCEL_TTL_SECONDS);
    for (let index = 1; index <= segments; index++)
      await ctx.publisher.publish(cancelChannel(ctx.prefix), segmentJobId(jobId, index));
    return { ok: true, state: 'cancelling' };
  }

  return { long, cancelChain };
}
export type Long = ReturnType<typeof createLong>;

/** Segment `index`'s request: the first is text- or image-to-video, each later one an extend of the one before. */
function segmentRequest(
  plan: LongPlan,
  request: LongRequest,
  index: number,
  prompt: string,
  seed: number,
  jobId: string,
  imageKey?: string,
) {
  const common = {
    prompt,
    seed: (seed + index - 1) % 2 ** 32,
    frames: plan.segmentFrames,
    ...(request.negativePrompt === undefined ? {} : { negativePrompt: request.negativePrompt }),
    ...(request.steps === undefined ? {} : { steps: request.steps }),
    ...(request.guidance === undefined ? {} : { guidance: request.guidance }),
    ...(request.size === undefined ? {} : { size: request.size }),
  };
  if (index > 1)
    // The clip is the segment before, read from the flow at run time; its id says which, for logs.
    return { ...common, task: 'extend', overlap: plan.overlap, clips: [{ clipId: segmentJobId(jobId, index - 1) }] };
  if (request.image !== undefined) return { ...common, task: 'i2v', images: [{ key: imageKey ?? 'pending' }] };
  return { ...common, task: 't2v' };
}
