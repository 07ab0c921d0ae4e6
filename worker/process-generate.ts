import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import {
  type DeliverJobData,
  type FinishedSegment,
  type GenerateJobData,
  type GenerateProgress,
  type GenerateResult,
  JobName,
  parseJobData,
  salvageJobData,
  tokensOf,
} from '../commands/index.ts';
import { decodeFrames, encodeMp4 } from '../media/mp4.ts';
import { decodeSidecar, encodeSidecar } from '../media/sidecar.ts';
import type { BlobStore } from '../queue/blobs.ts';
import { unpackImage } from '../queue/blobs.ts';
import type { ContractJob, ContractQueue } from '../queue/contract.ts';
import { deliveryJobOptions } from '../queue/delivery-retry.ts';
import { unpackFrames } from '../queue/frames.ts';
import type { TimingBook } from '../queue/timings.ts';
import { SamplerError } from '../sampler/index.ts';
import { type ChainStop, passOn, previousSegment } from './chain.ts';
import { DeviceLostError, isDeviceError } from './device-errors.ts';
import { type ClipSource, GenerationError, type GenerationInput, generate } from './generate.ts';
import { latentPreview } from './preview.ts';
import type { PusaModel } from './runtime/model.ts';

export interface ProcessorDeps {
  readonly model: PusaModel;
  readonly blobs: BlobStore;
  readonly deliver: ContractQueue<typeof JobName.Deliver>;
  readonly workerId: string;
  readonly previewEvery: number;
  /** Where measured job times go for the front ends' ETAs; absent, nothing is recorded. */
  readonly timings?: TimingBook;
  /** `cpu` or `cuda:N`: recorded with each timing. */
  readonly device?: string;
  readonly log: {
    info(o: object, msg: string): void;
    warn(o: object, msg: string): void;
    error(o: object, msg: string): void;
  };
  readonly now?: () => number;
  /**
   * Whether the job's owner asked to cancel it (the durable record in Redis, queue/names.ts#cancelKey). Checked when an
   * attempt starts and every `cancelCheckMs` while it runs, because the pub/sub cancel only reaches the workers alive
   * when it was sent. Absent, only the pub/sub cancel (BullMQ's signal) applies.
   */
  readonly cancelRequested?: (jobId: string) => Promise<boolean>;
  /**
   * The return value of a `generate` job by its BullMQ id: how a /long segment whose child failed for good finds the
   * chain up to the last segment that finished. Absent, such a chain goes on from nothing made.
   */
  readonly segmentResult?: (bullId: string) => Promise<unknown>;
  /** Least time between two checks of `cancelRequested` during the sampler's steps; default 1000 ms. */
  readonly cancelCheckMs?: number;
}

/**
 * The BullMQ processor of `generate` jobs: parse the payload again (Redis outlives deploys), fetch the inputs, run the
 * sampler through the runtime with progress and previews, encode the MP4, store the results as blobs and hand them to
 * the delivery queue. The delivery job's id is derived from the job id, so a retried job (its worker died after
 * delivering) cannot deliver twice.
 */
export function createGenerateProcessor(deps: ProcessorDeps) {
  const { model, blobs, deliver, workerId, log } = deps;
  const now = deps.now ?? (() => performance.now());
  const { manifest } = model.pack;

  const sendDelivery = (data: DeliverJobData) => deliver.add(JobName.Deliver, data, deliveryJobOptions(data.jobId));

  return async (
    job: ContractJob<typeof JobName.Generate>,
    _token?: string,
    signal?: AbortSignal,
  ): Promise<GenerateResult> => {
    // 1. Parse.
    const parsed = parseJobData(JobName.Generate, job.data);
    if (!parsed.ok) {
      log.error({ jobId: job.id, reason: parsed.reason }, 'rejected generate payload');
      // Its owner is told when the payload still says who that is and where they asked.
      const { jobId, requestId, origin } = salvageJobData(job.data);
      if (origin !== undefined && jobId !== undefined) {
        await sendDelivery({
          v: 1,
          jobId,
          requestId: requestId ?? jobId,
          origin,
          outcome: {
            status: 'failed',
            code: 'UnsupportedVersion',
            message: `this request cannot be processed: ${parsed.reason}. Please send it again.`,
          },
        }).catch(() => undefined);
      }
      throw new UnrecoverableError(parsed.reason);
    }
    const data = parsed.value;
    const link = data.chain;
    const started = now();
    const context = { jobId: data.jobId, requestId: data.requestId, workerId, attempt: job.attemptsMade + 1 };
    // Aborted by BullMQ's signal (the pub/sub cancel) or by the durable cancel record, whichever comes first.
    const cancel = new AbortController();
    const onAbort = () => cancel.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const requested = deps.cancelRequested;
    const checkEvery = deps.cancelCheckMs ?? 1000;
    let lastCheck = Date.now();
    let checking = false;
    /** Between steps: one check at a time, at most every `checkEvery`; a failed check (Redis away) is not a cancel. */
    const checkCancel = () => {
      if (requested === undefined || checking || cancel.signal.aborted || Date.now() - lastCheck < checkEvery) return;
      checking = true;
      lastCheck = Date.now();
      requested(data.jobId)
        .then((yes) => {
          if (yes) cancel.abort(new Error('cancelled by the user'));
        })
        .catch(() => undefined)
        .finally(() => {
          checking = false;
        });
    };

    // A /long segment: the chain so far, from the segment before (this job's child in the flow).
    const previous = link === undefined ? undefined : await previousSegment(job, data, link, deps.segmentResult);
    const finished: FinishedSegment[] = previous?.segments ?? [];
    try {
      // The chain stopped before this segment (cancelled, or a segment failed for good): pass it on, no work.
      if (link !== undefined && previous?.stopped !== undefined) return passOn(data, link, finished, previous.stopped);
      // A cancel recorded while no worker held the job (its worker had died): end it here, before any work.
      if (requested !== undefined && !cancel.signal.aborted && (await requested(data.jobId)))
        cancel.abort(new Error('cancelled by the user'));
      cancel.signal.throwIfAborted();
      log.info(link === undefined ? context : { ...context, segment: link.index, of: link.count }, 'generate started');
      // 2. Inputs: a later segment continues from the exact latents of the one before.
      const last = finished.at(-1);
      const input = await resolveInputs(
        link !== undefined && link.index > 1 && last !== undefined
          ? {
              ...data,
              request: { ...data.request, clips: [{ clipId: `segment ${last.index}`, latentsKey: last.latentsKey }] },
            }
          : data,
        blobs,
        data.request.size ?? (model.pack.manifest.video.sizes[0] as [number, number]),
      );

      // 3. Generate.
      const result = await generate(model, input, {
        signal: cancel.signal,
        onProgress: ({ step, total, elapsedMs, latents }) => {
          checkCancel();
          const etaMs = (elapsedMs / step) * (total - step);
          const withPreview = step === total || step % deps.previewEvery === 0;
          const progress: GenerateProgress = {
            step,
            total,
            etaMs: Math.round(etaMs),
            workerId,
            ...(withPreview ? { preview: toPreview(latentPreview(latents, manifest.preview.latentToRgb)) } : {}),
            // The chain's rest: this segment's, then the segments after it at this one's pace so far.
            ...(link === undefined
              ? {}
              : {
                  chain: {
                    jobId: data.jobId,
                    index: link.index,
                    count: link.count,
                    chainEtaMs: Math.round(etaMs + (link.count - link.index) * (now() - started + etaMs)),
                  },
                }),
          };
          job.updateProgress(progress).catch(() => undefined);
        },
      });

      // 4. Encode and store.
      cancel.signal.throwIfAborted();
      const { mp4 } = await encodeMp4(result.video, {
        fps: manifest.fps,
        ...(data.maxBytes === undefined ? {} : { maxBytes: data.maxBytes }),
      });
      const latentsBytes = encodeSidecar(result.latents, {
        model: { name: manifest.name, version: manifest.version },
        width: result.parameters.width,
        height: result.parameters.height,
        fps: manifest.fps,
        task: data.request.task,
        prompt: data.request.prompt,
        seed: result.parameters.seed,
      });
      const [mp4Key, latentsKey] = await Promise.all([blobs.put('mp4', mp4), blobs.put('latents', latentsBytes)]);
      const gpuSeconds = (now() - started) / 1000;

      // 5. Hand over to delivery; a segment hands its result to the next segment instead (its return value).
      const segment: FinishedSegment | undefined =
        link === undefined
          ? undefined
          : {
              index: link.index,
              mp4Key,
              latentsKey,
              frames: result.video.count,
              repeatedFrames: link.repeatedFrames,
              gpuSeconds,
              bytes: mp4.length,
              prompt: data.request.prompt,
              seed: result.parameters.seed,
              width: result.parameters.width,
              height: result.parameters.height,
              fps: result.parameters.fps,
              workerId,
            };
      if (segment === undefined)
        await sendDelivery({
          v: 1,
          jobId: data.jobId,
          requestId: data.requestId,
          origin: data.origin,
          outcome: {
            status: 'succeeded',
            mp4Key,
            latentsKey,
            parameters: { ...result.parameters },
            gpuSeconds,
            frames: result.video.count,
            bytes: mp4.length,
            workerId,
          },
        });
      log.info({ ...context, gpuSeconds, bytes: mp4.length }, 'generate finished');
      // What this job took, for the queue's ETAs: per sampler step, and the rest of what it was charged for.
      const { steps, frames, width, height, guidance } = result.parameters;
      const stepSeconds = result.timings.sampleMs / 1000 / Math.max(1, steps);
      await deps.timings
        ?.record({
          pack: `${manifest.name}@${manifest.version}`,
          device: deps.device ?? 'cpu',
          steps,
          tokens: tokensOf({
            latentFrames: (frames - 1) / manifest.latent.temporalFactor + 1,
            latentHeight: height / manifest.latent.spatialFactor,
            latentWidth: width / manifest.latent.spatialFactor,
            patch: manifest.latent.patch,
          }),
          guidance,
          pixelFrames: frames,
          stepSeconds,
          otherSeconds: Math.max(0, gpuSeconds - stepSeconds * steps),
        })
        .catch((error: unknown) => log.warn({ ...context, err: (error as Error).message }, 'timing not recorded'));
      if (link !== undefined && segment !== undefined)
        return {
          jobId: data.jobId,
          gpuSeconds,
          mp4Key,
          latentsKey,
          chain: { index: link.index, count: link.count, segments: [...finished, segment] },
        };
      return { jobId: data.jobId, gpuSeconds, mp4Key, latentsKey };
    } catch (error) {
      // A segment ends without throwing whenever the chain must stop, so the segments after it and the root still
      // run and deliver what was made; only a failure worth retrying (not the last attempt) is thrown.
      if (link !== undefined) {
        // A failing GPU stops this worker whatever the attempt: the segment is retried elsewhere, and once out of
        // attempts its parent passes the chain on as stopped (the flow's ignoreDependencyOnFailure).
        if (isDeviceError(error) && !cancel.signal.aborted) {
          log.error({ ...context, segment: link.index, err: (error as Error).message }, 'segment failed: the device');
          throw new DeviceLostError(error);
        }
        const stop = segmentStop(error, cancel.signal.aborted, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
        if (stop !== undefined) {
          log.info({ ...context, segment: link.index, reason: stop.reason, err: stop.message }, 'chain stopped');
          return passOn(data, link, finished, stop);
        }
        log.error({ ...context, segment: link.index, err: (error as Error).message }, 'segment failed; retrying');
        throw error;
      }
      if (cancel.signal.aborted) {
        await sendDelivery({
          v: 1,
          jobId: data.jobId,
          requestId: data.requestId,
          origin: data.origin,
          outcome: { status: 'cancelled' },
        });
        log.info(context, 'generate cancelled');
        throw new UnrecoverableError('cancelled');
      }
      // A failing GPU (device lost, CUDA/cuDNN error, out of memory): not the job's fault, so it is retried like any
      // infrastructure failure, on whichever worker takes it next. main.ts stops this worker on a DeviceLostError.
      const deviceLost = isDeviceError(error);
      if (error instanceof ClipDamagedError) {
        await sendDelivery({
          v: 1,
          jobId: data.jobId,
          requestId: data.requestId,
          origin: data.origin,
          outcome: { status: 'failed', code: error.code, message: error.message },
        });
        log.error({ ...context, err: (error.cause as Error).message }, 'generate failed: a stored clip is damaged');
        throw new UnrecoverableError(error.message);
      }
      if (!deviceLost && isPermanent(error)) {
        const message = (error as Error).message;
        await sendDelivery({
          v: 1,
          jobId: data.jobId,
          requestId: data.requestId,
          origin: data.origin,
          outcome: { status: 'failed', code: (error as { code?: string }).code ?? (error as Error).name, message },
        });
        log.warn({ ...context, err: message }, 'generate refused');
        throw new UnrecoverableError(message);
      }
      // Infrastructure trouble (Redis, ORT, a full disk): BullMQ retries with backoff; the last attempt tells the user.
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        await sendDelivery({
          v: 1,
          jobId: data.jobId,
          requestId: data.requestId,
          origin: data.origin,
          outcome: {
            status: 'failed',
            code: 'WorkerError',
            message: 'the worker failed to make this clip; nothing was charged. Please try again.',
          },
        }).catch(() => undefined);
      }
      if (deviceLost) {
        log.error({ ...context, err: (error as Error).message }, 'generate failed: the device failed');
        throw new DeviceLostError(error);
      }
      log.error({ ...context, err: (error as Error).message }, 'generate failed');
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };
}

/**
 * Why a segment's failure stops its chain: cancelled, refused for good, or out of attempts; undefined when another
 * attempt may work (BullMQ retries it, on this worker or another).
 */
function segmentStop(error: unknown, cancelled: boolean, lastAttempt: boolean): ChainStop | undefined {
  if (cancelled) return { reason: 'cancelled', code: 'Cancelled', message: 'cancelled by its owner' };
  const message = (error as Error).message;
  if (error instanceof ClipDamagedError || isPermanent(error))
    return { reason: 'failed', code: (error as { code?: string }).code ?? (error as Error).name, message };
  if (lastAttempt) return { reason: 'failed', code: 'WorkerError', message: 'the worker failed to make this segment' };
  return undefined;
}

/** Errors retrying cannot fix: bad inputs and requests the pack cannot serve. */
function isPermanent(error: unknown): boolean {
  return (
    error instanceof SamplerError ||
    error instanceof GenerationError ||
    error instanceof InputError ||
    (error as { name?: string }).name === 'MediaError'
  );
}

/**
 * A stored clip this job continues is damaged (its sidecar or frames truncated or invalid): our storage's fault, not
 * the request's, so the message says so; retrying reads the same bytes, so the job fails at once, uncharged.
 */
export class ClipDamagedError extends Error {
  readonly code = 'ClipDamaged';

  constructor(clipId: string, cause: unknown) {
    super(
      `the stored clip ${clipId} is damaged on our side (not a problem with your request); nothing was charged. ` +
        'Pick another clip, or make this one again.',
      { cause },
    );
    this.name = 'ClipDamagedError';
  }
}

/** A job input that is gone or unreadable. */
export class InputError extends Error {
  readonly code = 'InputExpired';

  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * The frames of a clip's MP4 at the job's size, decoded here with ffmpeg (the bot sends the file, not its 97 MB of
 * raw frames); ffmpeg needs a seekable input for MP4, hence the temporary file.
 */
async function framesOfMp4(mp4: Uint8Array, [width, height]: readonly [number, number]) {
  const dir = await mkdtemp(join(tmpdir(), 'pusa-clip-'));
  try {
    const path = join(dir, 'clip.mp4');
    await writeFile(path, mp4);
    return await decodeFrames(path, width, height);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function resolveInputs(
  data: GenerateJobData,
  blobs: BlobStore,
  size: readonly [number, number],
): Promise<GenerationInput> {
  const { request } = data;
  const fetch = async (key: string, what: string) => {
    const bytes = await blobs.get(key);
    if (bytes === undefined)
      throw new InputError(`the ${what} for this request expired before a worker got to it; please send it again`);
    return bytes;
  };
  const images = [];
  for (const ref of request.images) {
    const { rgb } = unpackImage(await fetch(ref.key, 'image'));
    images.push(ref.latentIndex === undefined ? { rgb } : { rgb, latentIndex: ref.latentIndex });
  }
  const clips: ClipSource[] = [];
  for (const ref of request.clips) {
    if (ref.latentsKey === undefined)
      throw new InputError('the clip to continue has no stored latents; pick one of your recent results');
    const latentsBytes = await fetch(ref.latentsKey, 'clip');
    let latents: ReturnType<typeof decodeSidecar>['latents'];
    try {
      latents = decodeSidecar(latentsBytes, `the sidecar of clip ${ref.clipId}`).latents;
    } catch (error) {
      throw new ClipDamagedError(ref.clipId ?? 'to continue', error);
    }
    // the earlier clip's MP4, decoded here (what bots write); raw frames from a bot before 2026-12-04
    const frames =
      ref.mp4Key !== undefined
        ? await framesOfMp4(await fetch(ref.mp4Key, 'clip'), size).catch((error: unknown) => {
            throw new ClipDamagedError(ref.clipId ?? 'to continue', error);
          })
        : ref.framesKey === undefined
          ? undefined
          : unpackFrames(await fetch(ref.framesKey, 'clip frames'));
    clips.push(frames === undefined ? { latents } : { latents, frames });
  }
  return {
    task: request.task,
    prompt: request.prompt,
    images,
    clips,
    ...(request.negativePrompt === undefined ? {} : { negativePrompt: request.negativePrompt }),
    ...(request.steps === undefined ? {} : { steps: request.steps }),
    ...(request.guidance === undefined ? {} : { guidance: request.guidance }),
    ...(request.seed === undefined ? {} : { seed: request.seed }),
    ...(request.frames === undefined ? {} : { frames: request.frames }),
    ...(request.size === undefined ? {} : { size: request.size }),
    ...(request.noiseMultipliers === undefined ? {} : { noiseMultipliers: request.noiseMultipliers }),
    ...(request.overlap === undefined ? {} : { overlap: request.overlap }),
  };
}

function toPreview(image: { width: number; height: number; rgb: Uint8Array }) {
  return { width: image.width, height: image.height, rgbBase64: Buffer.from(image.rgb).toString('base64') };
}
