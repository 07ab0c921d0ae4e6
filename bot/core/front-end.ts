import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { FlowProducer } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type ClipRef,
  type GenerateJobData,
  GenerationRequest,
  type InputRef,
  JobName,
  LONG_DEFAULT_MAX_SEGMENTS,
  type Origin,
  type OriginAddress,
  parseJobProgress,
  parseStoredJobExtras,
  predictSeconds,
  tokensOf,
  UserError,
} from '../../commands/index.ts';
import { MediaError } from '../../media/errors.ts';
import { type FitMode, normalizeImage } from '../../media/image.ts';
import { probeClip } from '../../media/mp4.ts';
import type { Manifest } from '../../pack/manifest.ts';
import { groupCommit } from '../../prisma/group-commit.ts';
import type { EnsureUserInput, EnsureWorkspaceInput, JobRecord, QuotaSnapshot, Store } from '../../prisma/types.ts';
import type { BlobStore } from '../../queue/blobs.ts';
import { packImage } from '../../queue/blobs.ts';
import type { ContractQueue } from '../../queue/contract.ts';
import { CANCEL_TTL_SECONDS, cancelChannel, cancelKey } from '../../queue/names.ts';
import type { TimingBook } from '../../queue/timings.ts';
import { type ArtifactStore, DamagedArtifactError } from '../artifacts.ts';
import { type Access, type Actor, access, type JobAction } from './access.ts';
import { enqueueGenerateMany } from './enqueue.ts';
import { createInputStore } from './inputs.ts';
import { createLong } from './long.ts';
import { createLookup } from './lookup.ts';
import { createOperator } from './operator.ts';
import { outageOf, QueueUnavailableError } from './outage.ts';
import { drawSeed } from './seed.ts';
import { warmUp } from './warm-up.ts';

/** What a front end hands the core for one request; images as the bytes the user sent. */
export interface SubmitInput {
  /** Idempotency key: the platform's interaction id, so a retried interaction makes one job. */
  readonly requestKey: string;
  readonly user: EnsureUserInput;
  readonly workspace: EnsureWorkspaceInput;
  readonly origin: OriginAddress;
  readonly request: {
    task: GenerationRequest['task'];
    prompt: string;
    negativePrompt?: string;
    steps?: number;
    guidance?: number;
    seed?: number;
    frames?: number;
    size?: [number, number];
    noiseMultipliers?: number[];
    overlap?: number;
    images?: { bytes: Buffer; latentIndex?: number; name?: string }[];
    clips?: { clipId: string }[];
    fit?: FitMode;
  };
  /** Upload limit of the destination, bytes. */
  readonly maxBytes?: number;
  /**
   * The job this request remakes (Re-roll, Remix): the requester must be allowed to derive from it, and a remake of
   * a private result must be private too. Clips in `request.clips` are checked the same way.
   */
  readonly derivedFrom?: string;
  /** Conversations besides the origin's that the front end checked the user can read (see `Actor.seenIn`). */
  readonly seenIn?: readonly string[];
}

export type SubmitAnswer =
  | {
      ok: true;
      jobId: string;
      requestId: string;
      position: number;
      etaSeconds: number;
      estimatedSeconds: number;
      duplicate: boolean;
    }
  | { ok: false; requestId: string; error: UserError };

export interface FrontEndDeps {
  readonly store: Store;
  readonly generate: ContractQueue<typeof JobName.Generate>;
  readonly blobs: BlobStore;
  readonly publisher: Redis;
  readonly prefix: string;
  readonly manifest: Manifest;
  readonly artifacts: ArtifactStore;
  readonly now?: () => Date;
  readonly jobAttempts?: number;
  /**
   * Moderation hook for input images (e.g. an NSFW classifier), run on the normalised image before anything is
   * queued. Absent by default; a refusal reaches the user with its reason.
   */
  readonly imageCheck?: ImageCheck;
  /** Measured job times of the workers (queue/timings.ts); without it ETAs come from the pack's cost model alone. */
  readonly timings?: TimingBook;
  /** Adds /long's chains of segment jobs (BullMQ flows); without it /long answers that it is not set up. */
  readonly flows?: FlowProducer;
  /** Operators' cap on segments per /long request (`LONG_MAX_SEGMENTS`); `LONG_DEFAULT_MAX_SEGMENTS` when absent. */
  readonly longMaxSegments?: number;
}

/** Inspects one normalised image (`width × height × 3` sRGB bytes); `{ ok: false, reason }` refuses the request. */
export type ImageCheck = (image: {
  width: number;
  height: number;
  rgb: Uint8Array;
  name: string;
}) => Promise<{ ok: true } | { ok: false; reason: string }>;

/**
 * The platform-neutral front-end core that every adapter (Discord, Slack, the playground) uses: it validates,
 * checks and reserves quota, stores inputs, enqueues, and answers at once with the queue position and an ETA.
 * Adapters only translate between their platform and these calls.
 */
export function createFrontEnd(deps: FrontEndDeps) {
  const { store, generate, blobs, manifest, artifacts } = deps;
  const queueAvailable = () => deps.publisher.status === 'ready';
  const now = deps.now ?? (() => new Date());
  const inputs = createInputStore(artifacts.root);

  let draining = false;
  const packKey = `${manifest.name}@${manifest.version}`;
  // The workers' recent timings, read at most every 5 s: every submit and ETA uses them.
  let measured = { at: 0, runs: Promise.resolve([] as Awaited<ReturnType<TimingBook['recent']>>) };
  const measuredRuns = () => {
    if (deps.timings !== undefined && Date.now() - measured.at > 5_000)
      measured = { at: Date.now(), runs: deps.timings.recent(packKey).catch(() => []) };
    return measured.runs;
  };
  /**
   * What a job of this shape takes on this pack: the cost model scaled by what the workers measured. Kept per shape
   * for as long as the measured runs are the same reading (5 s): a burst asks for a few shapes hundreds of times, and
   * each prediction sorts every measured run.
   */
  let predictions = { runs: undefined as unknown, byShape: new Map<string, ReturnType<typeof predictSeconds>>() };
  const predict = async (shape: { steps: number; frames: number; width: number; height: number; guidance: number }) => {
    const runs = await measuredRuns();
    if (predictions.runs !== runs) predictions = { runs, byShape: new Map() };
    const key = `${shape.steps}:${shape.frames}:${shape.width}x${shape.height}:${shape.guidance}`;
    const known = predictions.byShape.get(key);
    if (known !== undefined) return known;
    const predicted = predictSeconds(
      manifest.cost,
      {
        steps: shape.steps,
        tokens: tokensOf({
          latentFrames: (shape.frames - 1) / manifest.latent.temporalFactor + 1,
          latentHeight: shape.height / manifest.latent.spatialFactor,
          latentWidth: shape.width / manifest.latent.spatialFactor,
          patch: manifest.latent.patch,
        }),
        guidance: shape.guidance,
        pixelFrames: shape.frames,
      },
      runs,
    );
    if (predictions.byShape.size < 1_000) predictions.byShape.set(key, predicted);
    return predicted;
  };
  const defaultShape = () => {
    const [width, height] = manifest.video.sizes[0] as [number, number];
    return {
      steps: manifest.defaults.steps,
      frames: manifest.video.defaultFrames,
      width,
      height,
      guidance: manifest.defaults.guidance,
    };
  };
  // Users and workspaces change rarely (bans and limits are read by reserve itself): cache their ids briefly.
  const users = new Map<string, { at: number; value: Promise<{ id: string }> }>();
  const workspaces = new Map<string, { at: number; value: Promise<{ id: string }> }>();
  const quotas = new Map<string, { at: number; value: Promise<QuotaSnapshot> }>();
  const CACHE_MS = 30_000;
  const known = <TValue extends { id: string }>(
    cache: Map<string, { at: number; value: Promise<{ id: string }> }>,
    key: { platform: string; externalId: string },
    load: () => Promise<TValue>,
  ) => {
    const id = `${key.platform}:${key.externalId}`;
    const hit = cache.get(id);
    if (hit !== undefined && Date.now() - hit.at < CACHE_MS) return hit.value;
    const value = load();
    cache.set(id, { at: Date.now(), value });
    value.catch(() => cache.delete(id));
    if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
    return value;
  };
  const ensureUser = (user: EnsureUserInput) => known(users, user, () => store.ensureUser(user));
  const ensureWorkspace = (workspace: EnsureWorkspaceInput) =>
    known(workspaces, workspace, () => store.ensureWorkspace(workspace));
  /** Today's usage for the fairness priority; a few seconds stale is fine for ordering. */
  const recentQuota = (userId: string, workspaceId: string) => {
    const hit = quotas.get(userId);
    if (hit !== undefined && Date.now() - hit.at < 5_000) return hit.value;
    const value = store.quota(userId, workspaceId, now());
    quotas.set(userId, { at: Date.now(), value });
    value.catch(() => quotas.delete(userId));
    if (quotas.size > 10_000) quotas.delete(quotas.keys().next().value as string);
    return value;
  };

  const chains = createLong({
    store,
    flows: deps.flows,
    blobs,
    publisher: deps.publisher,
    prefix: deps.prefix,
    manifest,
    jobAttempts: deps.jobAttempts ?? 3,
    maxSegments: deps.longMaxSegments ?? LONG_DEFAULT_MAX_SEGMENTS,
    imageCheck: deps.imageCheck,
    now,
    draining: () => draining,
    queueAvailable,
    ensureUser,
    ensureWorkspace,
    recentQuota,
    priority: fairnessPriority,
    predict,
    queueEstimate: (jobId, ownSeconds) => queueEstimate(jobId, ownSeconds),
    outageOf,
  });

  async function submit(input: SubmitInput): Promise<SubmitAnswer> {
    const requestId = randomUUID();
    if (draining) {
      return {
        ok: false,
        requestId,
        error: new UserError(
          'Unavailable',
          'the bot is restarting and takes no new requests right now; please try again in a minute',
        ),
      };
    }
    try {
      return await submitOrThrow(input, requestId);
    } catch (error) {
      if (error instanceof UserError) return { ok: false, requestId, error };
      // The database or the queue away: said in words safe to show, never the driver's message.
      const outage = outageOf(error);
      if (outage !== undefined) return { ok: false, requestId, error: outage };
      throw error;
    }
  }

  async function submitOrThrow(input: SubmitInput, requestId: string): Promise<SubmitAnswer> {
    // A seed of our own when none was given, so every run differs and Info shows how to reproduce it.
    const request = { ...input.request, seed: input.request.seed ?? drawSeed() };
    // 1. Validate what the user may set (cheap checks first; images and clips are counted with placeholders).
    const shape = GenerationRequest.safeParse({
      ...request,
      images: (request.images ?? []).map((image, i) => ({
        key: `pending-${i}`,
        ...(image.latentIndex === undefined ? {} : { latentIndex: image.latentIndex }),
      })),
      clips: (request.clips ?? []).map((clip) => ({ clipId: clip.clipId })),
    });
    if (!shape.success) {
      const issue = shape.error.issues[0];
      throw new UserError(
        'InvalidOption',
        `${issue?.path.length ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'invalid request'}`,
      );
    }
    const [width, height] = request.size ?? (manifest.video.sizes[0] as [number, number]);
    if (!manifest.video.sizes.some(([w, h]) => w === width && h === height)) {
      throw new UserError(
        'InvalidOption',
        `size must be one of ${manifest.video.sizes.map(([w, h]) => `${w}x${h}`).join(', ')} for ${manifest.name}; got ${width}x${height}`,
      );
    }
    const frames = request.frames ?? manifest.video.defaultFrames;
    if (!manifest.video.frameCounts.includes(frames))
      throw new UserError(
        'InvalidOption',
        `frames must be one of ${manifest.video.frameCounts.join(', ')} for ${manifest.name}; got ${frames}`,
      );
    const latentFrames = (frames - 1) / manifest.latent.temporalFactor + 1;
    for (const image of request.images ?? []) {
      if (image.latentIndex !== undefined && image.latentIndex >= latentFrames) {
        throw new UserError(
          'InvalidOption',
          `keyframe position ${image.latentIndex} is past the last latent frame (${latentFrames - 1}) of a ${frames}-frame clip`,
        );
      }
    }

    // Redis down: say so now. Its commands would wait for it to come back, long after the asker gave up, and then
    // queue a job nobody was told about.
    if (!queueAvailable()) throw new QueueUnavailableError('Redis is not connected');

    // 2. Who is asking; a retried interaction gets the job it already made. The key is the requester's own: two users
    // who send the same key (a playground page's counter, a client's retry id) must not share one job, its events and
    // its clip ([13] finding 9). It names the platform user, not our row, so it is looked up beside the user's row.
    const requestKey = `${input.user.platform}:${input.user.externalId}:${input.requestKey}`;
    // A request with inputs to store or a job to check looks its key up first, so a retry repeats none of that work;
    // a plain one leaves it to the reservation, which answers a known key with its job (one statement fewer a burst).
    const plain =
      (request.images ?? []).length === 0 && (request.clips ?? []).length === 0 && input.derivedFrom === undefined;
    const [user, workspace, existing] = await Promise.all([
      ensureUser(input.user),
      ensureWorkspace(input.workspace),
      plain ? null : store.jobByRequestKey(requestKey),
    ]);
    if (existing !== null) return answer(existing, requestId, true);

    const actor: Actor = {
      userId: user.id,
      workspaceId: workspace.id,
      ...(input.origin.channelId === undefined ? {} : { channelId: input.origin.channelId }),
      ...(input.seenIn === undefined ? {} : { seenIn: input.seenIn }),
    };
    // Every job this one is made from must be open to the requester, and privacy carries over to what is derived.
    const mayDerive = async (jobId: string) => {
      const parent = await store.job(jobId);
      if (parent === null) throw new UserError('NotFound', `job ${jobId} was not found`);
      const verdict = access(parent, actor, 'derive');
      if (!verdict.ok) throw verdict.error;
      if (verdict.private && input.origin.ephemeral !== true)
        throw new UserError(
          'NotAllowed',
          `job ${jobId} is a private result, so what is made from it must be private too; ask for a private reply`,
        );
    };
    if (input.derivedFrom !== undefined) await mayDerive(input.derivedFrom);

    // 3. Inputs: images normalised here (sharp), clips from the artifact store; both stored as blobs with a TTL.
    const images: InputRef[] = [];
    for (const [i, image] of (request.images ?? []).entries()) {
      const normalized = await normalizeImage(image.bytes, { width, height, fit: request.fit ?? 'crop' }).catch(
        (error: unknown) => {
          if (error instanceof MediaError)
            throw new UserError(
              'InvalidInput',
              `${image.name ?? `image ${i + 1}`}: ${error.message.replace(/^the image /, '')}`,
            );
          throw error;
        },
      );
      if (deps.imageCheck !== undefined) {
        const verdict = await deps.imageCheck({
          width,
          height,
          rgb: normalized.rgb,
          name: image.name ?? `image ${i + 1}`,
        });
        if (!verdict.ok)
          throw new UserError('BlockedPrompt', `${image.name ?? `image ${i + 1}`} was refused: ${verdict.reason}`);
      }
      const key = await blobs.put('image', packImage(width, height, normalized.rgb));
      images.push(image.latentIndex === undefined ? { key } : { key, latentIndex: image.latentIndex });
    }
    const clips: ClipRef[] = [];
    let parentClipId: string | undefined;
    let secondParentClipId: string | undefined;
    for (const [i, { clipId }] of (request.clips ?? []).entries()) {
      const clip = await store.clip(clipId);
      if (clip === null || clip.latentsPath === null)
        throw new UserError('NotFound', `clip ${clipId} was not found; pick one of your recent results`);
      await mayDerive(clip.jobId);
      // Checked here, before anything is reserved: a damaged sidecar would only fail (or mislead) the worker, and a
      // damaged MP4 is found by ffprobe reading its header, without decoding the frames (the worker decodes them).
      const latents = await artifacts.readLatents(clip.latentsPath).catch((error: unknown) => {
        if (!(error instanceof DamagedArtifactError)) throw error;
        throw new UserError(
          'NotFound',
          `clip ${clipId} is damaged on the bot host and cannot be continued; pick another`,
          {
            cause: error.message,
          },
        );
      });
      await probeClip(artifacts.absolute(clip.mp4Path));
      const [latentsKey, mp4Key] = await Promise.all([
        blobs.put('latents', latents),
        artifacts.read(clip.mp4Path).then((bytes) => blobs.put('mp4', bytes)),
      ]);
      clips.push({ clipId, latentsKey, mp4Key });
      if (i === 0) parentClipId = clipId;
      else secondParentClipId = clipId;
    }

    // 4. Reserve quota (atomic in the store), then enqueue.
    // With no inputs the first check already parsed exactly this request.
    const parsed =
      images.length === 0 && clips.length === 0 ? shape.data : GenerationRequest.parse({ ...request, images, clips });
    // Reserved against the quota and the base of every ETA: measured on this pack's workers when they have run jobs.
    const estimated = (
      await predict({
        steps: request.steps ?? manifest.defaults.steps,
        frames,
        width,
        height,
        guidance: request.guidance ?? manifest.defaults.guidance,
      })
    ).seconds;
    const origin: Origin = {
      ...input.origin,
      ephemeral: input.origin.ephemeral ?? false,
      workspaceId: workspace.id,
      userId: user.id,
    };
    const reserved = await store.reserve({
      requestKey,
      userId: user.id,
      workspaceId: workspace.id,
      task: parsed.task,
      parameters: JSON.parse(
        JSON.stringify({
          ...parsed,
          requestId,
          // Kept so the reconciler can re-enqueue the job exactly as submitted if it never reached the queue.
          ...(input.maxBytes === undefined ? {} : { maxBytes: input.maxBytes }),
          ...(parentClipId === undefined ? {} : { parentClipId }),
          ...(secondParentClipId === undefined ? {} : { secondParentClipId }),
        }),
      ),
      estimatedSeconds: Math.max(1, Math.ceil(estimated)),
      origin: JSON.parse(JSON.stringify(origin)),
      now: now(),
      prompt: parsed.prompt,
    });
    if (!reserved.ok) {
      await blobs.delete(...images.map((i) => i.key), ...clips.flatMap((c) => [c.latentsKey ?? '', c.mp4Key ?? '']));
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
    if (!reserved.created) return answer(reserved.job, requestId, true);

    // The reservation's own count of the user's day (fresh, and no second read of the database per submit).
    const quota = reserved.usage ?? (await recentQuota(user.id, workspace.id));
    const priority = fairnessPriority(quota);
    let added: number;
    const data: GenerateJobData = {
      v: 1,
      jobId: reserved.job.id,
      requestId,
      request: parsed,
      origin,
      estimatedSeconds: estimated,
      ...(input.maxBytes === undefined ? {} : { maxBytes: input.maxBytes }),
    };
    try {
      added = await enqueue({ data, priority });
    } catch (error) {
      // Redis is down: release the reservation so the user is not charged for a job that never queued.
      await store
        .fail(reserved.job.id, { code: 'Unavailable', message: 'the queue was unreachable', now: now() })
        .catch(() => undefined);
      throw new UserError(
        'Unavailable',
        'the job queue is unreachable right now; nothing was charged. Please try again in a minute.',
        { cause: (error as Error).message },
      );
    }
    // The images as sent, so Re-roll and Remix of this job work on every front end (bot/core/lookup.ts `remake`).
    // Best effort: a full disk must not fail a job that is queued already; the remake then asks for them again.
    if (images.length > 0) await inputs.save(reserved.job.id, request.images ?? []).catch(() => undefined);
    return answer(reserved.job, requestId, false, { priority, added });
  }

  /** Position and ETA: the work queued ahead of this job, spread over the workers online. */
  async function answer(
    job: JobRecord,
    requestId: string,
    duplicate: boolean,
    queued?: { priority: number; added: number },
  ): Promise<SubmitAnswer> {
    const { position, etaSeconds } =
      queued === undefined
        ? await queueEstimate(job.id, job.estimatedSeconds)
        : await place({ ...queued, ownSeconds: job.estimatedSeconds });
    return {
      ok: true,
      jobId: job.id,
      requestId: parseStoredJobExtras(job.parameters).requestId ?? requestId,
      position,
      etaSeconds,
      estimatedSeconds: job.estimatedSeconds,
      duplicate,
    };
  }

  /** Position and ETA of a queued job this process did not just add: its priority is read from the queue. */
  async function queueEstimate(jobId: string, ownSeconds: number): Promise<{ position: number; etaSeconds: number }> {
    const priority = (await generate.getJob(jobId))?.opts.priority ?? 0;
    return place({ priority, ownSeconds });
  }

  /**
   * Submits of one moment share one `addBulk` (group commit, prisma/group-commit.ts): 200 adds at once were 200
   * script calls each answer waited behind.
   */
  let addedCount = 0;
  const enqueue = groupCommit<{ data: GenerateJobData; priority: number }, number>(async (jobs) => {
    await enqueueGenerateMany(generate, jobs, deps.jobAttempts ?? 3);
    // In the order addBulk added them: BullMQ runs equal priorities first in, first out.
    return jobs.map(() => ++addedCount);
  });

  /**
   * Position and ETA without listing the queue: jobs ahead are the waiting jobs of an equal or better priority
   * (BullMQ keeps per-priority counts), each assumed to take as long as this one (its measured prediction); running
   * jobs add what their worker says is left of their steps (measured on that job) plus the decode that follows, or
   * what is left of their estimate before their first step; the total is spread over the workers online (counted at
   * most every 5 s). The answers asked for at one moment share one reading of the queue, taken after each of their
   * jobs was added (every caller asks only once its add is done). A job this process added (`added`, its place in
   * this process's adds) does not count those of the same priority added after it as ahead: they run after it.
   */
  const place = groupCommit<
    { priority: number; ownSeconds: number; added?: number },
    { position: number; etaSeconds: number }
  >(async (asks) => {
    const top = Math.max(0, ...asks.map((ask) => ask.priority));
    const [perPriority, waiting, active, lanes] = await Promise.all([
      top > 0 ? generate.getCountsPerPriority(Array.from({ length: top }, (_, i) => i + 1)) : {},
      asks.some((ask) => ask.priority <= 0) ? generate.getJobCounts('waiting') : {},
      generate.getJobs(['active'], 0, 64),
      workerCount(),
    ]);
    // Jobs waiting at priority 1..p, for every p asked about.
    const upTo = [0];
    for (let p = 1; p <= top; p++)
      upTo.push((upTo[p - 1] as number) + ((perPriority as Record<string, number>)[p] ?? 0));
    const waitingAll = Object.values(waiting as Record<string, number>).reduce((a, b) => a + b, 0);
    const typical = await predict(defaultShape());
    const afterSteps = Math.max(0, typical.seconds - typical.stepSeconds * defaultShape().steps);
    const running = active.reduce((sum, j) => {
      const progress = parseJobProgress(JobName.Generate, j.progress);
      if (progress !== undefined && progress.step > 0) return sum + progress.etaMs / 1000 + afterSteps;
      const done = progress === undefined ? 0 : progress.step / progress.total;
      return sum + j.data.estimatedSeconds * (1 - done);
    }, 0);
    return asks.map(({ priority, ownSeconds, added }) => {
      const behind =
        added === undefined
          ? 0
          : asks.filter((other) => other.priority === priority && (other.added ?? 0) > added).length;
      const queuedAhead = Math.max(0, (priority > 0 ? (upTo[priority] as number) : waitingAll) - 1 - behind);
      return {
        position: queuedAhead + 1,
        etaSeconds: Math.round((queuedAhead * ownSeconds + running) / lanes + ownSeconds),
      };
    });
  });

  let workers = { at: 0, count: Promise.resolve(1) };
  const workerCount = () => {
    if (Date.now() - workers.at > 5_000)
      workers = {
        at: Date.now(),
        count: generate.getWorkers().then(
          (list) => Math.max(1, list.length),
          () => 1,
        ),
      };
    return workers.count;
  };

  /**
   * Cancels a job the actor may cancel (see access.ts): removed if still queued, aborted on its worker if running.
   * "cancelling" is a promise kept even when no worker is alive: the request is stored, not only broadcast.
   */
  async function cancel(
    jobId: string,
    by: Actor,
  ): Promise<{ ok: true; state: 'cancelled' | 'cancelling' } | { ok: false; error: UserError }> {
    const job = await store.job(jobId);
    if (job === null)
      return { ok: false, error: new UserError('NotFound', `job ${jobId} was not found among your requests`) };
    const verdict = access(job, by, 'cancel');
    if (!verdict.ok) return verdict;
    if (job.status !== 'queued' && job.status !== 'running')
      return { ok: false, error: new UserError('NotAllowed', `job ${jobId} already ${job.status}`) };
    // A /long chain stops where it is and still delivers what it made (bot/core/long.ts).
    const chain = parseStoredJobExtras(job.parameters).long;
    if (chain !== undefined) return chains.cancelChain(jobId, chain.segments);
    // Recorded before anything else, so it holds whatever happens next: a worker that takes the job meanwhile, or one
    // that restarts it after its worker died, reads it and ends the job cancelled and uncharged ([13] finding 15).
    await deps.publisher.set(cancelKey(deps.prefix, jobId), '1', 'EX', CANCEL_TTL_SECONDS);
    const queued = await generate.getJob(jobId);
    const state = queued === undefined ? 'missing' : await queued.getState();
    if (queued !== undefined && (state === 'waiting' || state === 'prioritized' || state === 'delayed')) {
      try {
        await queued.remove();
        await store.cancel(jobId, now());
        return { ok: true, state: 'cancelled' };
      } catch {
        // A worker took it between the two calls: fall through to the running case.
      }
    }
    if (state === 'missing') {
      await store.cancel(jobId, now());
      return { ok: true, state: 'cancelled' };
    }
    await deps.publisher.publish(cancelChannel(deps.prefix), jobId);
    return { ok: true, state: 'cancelling' };
  }

  /**
   * Deletes a finished result the actor may delete (see access.ts): its clip leaves history, its files are removed so
   * its URL stops serving it, and it can no longer be extended. The GPU seconds it cost stay charged.
   */
  async function remove(
    jobId: string,
    by: Actor,
  ): Promise<{ ok: true; clipId: string | null } | { ok: false; error: UserError }> {
    const job = await store.job(jobId);
    if (job === null || job.deletedAt !== null)
      return { ok: false, error: new UserError('NotFound', `job ${jobId} was not found among your requests`) };
    const verdict = access(job, by, 'delete');
    if (!verdict.ok) return verdict;
    if (job.status === 'queued' || job.status === 'running')
      return {
        ok: false,
        error: new UserError('NotAllowed', `job ${jobId} is still ${job.status}; cancel it instead`),
      };
    const deleted = await store.deleteResult(jobId, now());
    if (deleted === null)
      return { ok: false, error: new UserError('NotFound', `job ${jobId} was not found among your requests`) };
    const { clip } = deleted;
    // A /long job's segments, posted as they landed, lie beside its clip (bot/artifacts.ts saveSegment).
    const segments = parseStoredJobExtras(job.parameters).long?.segments ?? 0;
    const segmentPaths =
      clip === null
        ? []
        : Array.from({ length: segments }, (_, i) => join(dirname(clip.mp4Path), `segment-${i + 1}.mp4`));
    if (clip !== null)
      await artifacts.remove(clip.mp4Path, ...(clip.latentsPath === null ? [] : [clip.latentsPath]), ...segmentPaths);
    await inputs.remove(jobId).catch(() => undefined);
    return { ok: true, clipId: clip?.id ?? null };
  }

  /**
   * The user's recent jobs with what a front end needs to redraw them after a reload: finished ones with their clip,
   * running ones with the worker's last progress, queued ones with their position and ETA.
   */
  async function recent(userId: string, limit = 20) {
    const jobs = await store.history(userId, { limit });
    return Promise.all(
      jobs.map(async (job) => {
        if (job.status === 'running') {
          const queued = await generate.getJob(job.id);
          const progress = parseJobProgress(JobName.Generate, queued?.progress);
          return progress === undefined
            ? { job }
            : { job, progress: { step: progress.step, total: progress.total, etaMs: progress.etaMs } };
        }
        if (job.status === 'queued') return { job, ...(await queueEstimate(job.id, job.estimatedSeconds)) };
        return { job };
      }),
    );
  }

  /**
   * Whether the actor may do `action` with a job, named by its id or by its clip's id (what buttons carry), with the
   * job when allowed. Front ends ask before they answer (e.g. to defer privately when the result must be private).
   */
  async function authorize(
    target: { jobId: string } | { clipId: string },
    by: Actor,
    action: JobAction,
  ): Promise<(Access & { ok: true; job: JobRecord }) | { ok: false; error: UserError }> {
    const jobId = 'jobId' in target ? target.jobId : (await store.clip(target.clipId))?.jobId;
    const job = jobId === undefined ? null : await store.job(jobId);
    if (job === null) {
      const what = 'jobId' in target ? `job ${target.jobId}` : `clip ${target.clipId}`;
      return { ok: false, error: new UserError('NotFound', `${what} was not found`) };
    }
    const verdict = access(job, by, action);
    return verdict.ok ? { ...verdict, job } : verdict;
  }

  const clipSeconds = async () => {
    const [prediction, runs] = await Promise.all([predict(defaultShape()), measuredRuns()]);
    return {
      seconds: prediction.seconds,
      measured: prediction.measured,
      devices: [...new Set(runs.map((r) => r.device))],
      pack: packKey,
    };
  };

  return {
    submit,
    /** /long: a chain of segments from one request (bot/core/long.ts); cancel, info and delivery as for any job. */
    long: chains.long,
    cancel,
    remove,
    authorize,
    recent,
    // Identity, Info, Extend, Re-roll and Remix behind the access rule, and delivery routing.
    ...createLookup({ store, inputs, ensureUser, ensureWorkspace, authorize }),
    /** The operators' actions (pause, quotas, bans, blocklists, the dashboard's overview), scoped in the core. */
    operator: createOperator({ store, generate, clipSeconds, now }),
    /** Runs the code of one burst of `size` submits once, keeping nothing (bot/core/warm-up.ts): called at start. */
    warmUp: (size: number) =>
      warmUp({ store, redis: deps.publisher, prefix: deps.prefix, jobAttempts: deps.jobAttempts ?? 3, place }, size),
    /** Stops taking requests (SIGTERM): queued and running jobs still finish and are delivered. */
    drain: () => {
      draining = true;
    },
    /** Whether Redis is connected now: adapters answer "the queue is unavailable" at once when it is not. */
    queueAvailable,
    queueEstimate,
    /**
     * What one default clip (the pack's default steps, frames and size) takes, in wall-clock seconds, which is what
     * quotas charge: measured on the workers when `measured` > 0, else the pack's cost model. Devices: which ran them.
     */
    clipSeconds,
    /** Today's quota, with `explanation`: what a GPU second is and how many default clips the limit allows here. */
    quota: async (userId: string, workspaceId: string) => {
      const [snapshot, clip] = await Promise.all([store.quota(userId, workspaceId, now()), predict(defaultShape())]);
      return { ...snapshot, explanation: explainQuota(snapshot.limitSeconds, clip.seconds, clip.measured) };
    },
    history: (userId: string, limit = 10) => store.history(userId, { limit }),
  };
}
export type FrontEnd = ReturnType<typeof createFrontEnd>;

/**
 * BullMQ priority (1 = first) from today's usage: a user who has used little goes ahead of one who has used a lot,
 * so one user's burst cannot starve everyone else. Jobs of equal priority stay first-in, first-out.
 */
export function fairnessPriority(
  quota: Pick<QuotaSnapshot, 'usedSeconds' | 'reservedSeconds' | 'limitSeconds'>,
): number {
  const share = (quota.usedSeconds + quota.reservedSeconds) / Math.max(1, quota.limitSeconds);
  return 1 + Math.min(99, Math.floor(share * 100));
}

/**
 * The quota's unit in words users and operators read: GPU seconds are the wall-clock seconds a worker spends on a
 * clip (charged on success only), and what the limit buys at this pack's measured (or modelled) clip time.
 */
export function explainQuota(limitSeconds: number, clipSeconds: number, measured: number): string {
  const per = Math.max(1, Math.round(clipSeconds));
  const clips = Math.floor(limitSeconds / Math.max(1e-9, clipSeconds));
  const basis =
    measured > 0
      ? `measured over the last ${measured} job${measured === 1 ? '' : 's'}`
      : "from the model pack's figures";
  return (
    'GPU seconds are the wall-clock seconds a worker spends making your clip, charged only when it succeeds. ' +
    `A default clip takes about ${per} s here (${basis}), so ${limitSeconds} s is about ${clips} clip${clips === 1 ? '' : 's'} a day.`
  );
}
