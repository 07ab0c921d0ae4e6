import type { JobsOptions } from 'bullmq';
import { BLOB_TTL_SECONDS } from './blobs.ts';

/**
 * How a finished job's delivery (store the clip, settle the quota, post to the chat) is retried. Defined once: the
 * worker enqueues with these options and the bot's delivery consumer computes the delays, so the two cannot drift.
 *
 * The delay doubles from 1 s and is capped at 5 min, and attempts continue for as long as the job's inputs and
 * result live in Redis (`BLOB_TTL_SECONDS`): a ten-attempt exponential policy gave up after about 8.5 minutes,
 * silently, with the job left in flight and its owner held at the queue cap ([13] finding 11).
 */
export const DELIVERY_BACKOFF_TYPE = 'delivery-capped';
export const DELIVERY_FIRST_DELAY_MS = 1_000;
export const DELIVERY_MAX_DELAY_MS = 5 * 60_000;

/** The wait before retry number `attemptsMade` (1 after the first failure), in milliseconds. */
export function deliveryBackoffMs(attemptsMade: number): number {
  const exponent = Math.max(0, Math.min(attemptsMade - 1, 30));
  return Math.min(DELIVERY_FIRST_DELAY_MS * 2 ** exponent, DELIVERY_MAX_DELAY_MS);
}

/** How many attempts fit in `lifetimeSeconds` of waiting between them (the first attempt waits for nothing). */
export function deliveryAttempts(lifetimeSeconds: number = BLOB_TTL_SECONDS): number {
  let waited = 0;
  let attempts = 1;
  while (waited + deliveryBackoffMs(attempts) <= lifetimeSeconds * 1000) {
    waited += deliveryBackoffMs(attempts);
    attempts += 1;
  }
  return attempts;
}

/** The BullMQ options of a delivery job; `attempts` is for tests that cannot wait a day. */
export function deliveryJobOptions(jobId: string, attempts: number = deliveryAttempts()): JobsOptions {
  return {
    jobId: `deliver-${jobId}`,
    attempts,
    backoff: { type: DELIVERY_BACKOFF_TYPE },
    removeOnComplete: { age: 86_400 },
    removeOnFail: { age: 7 * 86_400 },
  };
}

/** The delivery Worker's `settings.backoffStrategy`; other backoff types never reach it (BullMQ keeps its own). */
export function deliveryBackoffStrategy(attemptsMade: number, type?: string): number {
  if (type !== DELIVERY_BACKOFF_TYPE) throw new Error(`unknown backoff type ${String(type)} on the deliver queue`);
  return deliveryBackoffMs(attemptsMade);
}
