/** Redis names shared by the bot and the workers. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}

/**
 * The durable record of a cancel request for one job, read by whichever worker (re)starts or continues it: the
 * pub/sub message reaches only the workers alive at that moment, so a cancel sent while the job's worker was dead
 * was lost and the job ran elsewhere and was charged ([13] finding 15).
 */
export function cancelKey(prefix: string, jobId: string): string {
  return `${prefix}:cancel-requested:${jobId}`;
}

/** How long a cancel request is kept: longer than any job can wait in the queue and retry (inputs live a day). */
export const CANCEL_TTL_SECONDS = 2 * 24 * 60 * 60;
