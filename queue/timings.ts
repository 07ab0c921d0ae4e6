import type { Redis } from 'ioredis';
import type { MeasuredRun } from '../commands/index.ts';

/** Jobs remembered per pack: enough for a stable median, few enough that a change of hardware shows within a day. */
export const TIMINGS_KEPT = 50;
const TIMINGS_TTL_SECONDS = 30 * 86_400;

/**
 * Recent measured job times per model pack, shared by the workers (which write one entry per finished job) and the
 * front-end core (which predicts queue ETAs and reservations from them). A Redis list per pack, newest first,
 * trimmed to TIMINGS_KEPT; each entry names the device that ran it, so a pool of CPUs and GPUs is averaged as it
 * actually serves the queue.
 */
export interface TimingBook {
  record(run: MeasuredRun): Promise<void>;
  /** Newest first; entries that do not parse (another version's) are skipped. */
  recent(pack: string): Promise<MeasuredRun[]>;
}

export function createTimingBook(redis: Redis, prefix: string): TimingBook {
  const key = (pack: string) => `${prefix}:timings:${pack}`;
  return {
    async record(run) {
      await redis
        .multi()
        .lpush(key(run.pack), JSON.stringify(run))
        .ltrim(key(run.pack), 0, TIMINGS_KEPT - 1)
        .expire(key(run.pack), TIMINGS_TTL_SECONDS)
        .exec();
    },
    async recent(pack) {
      const entries = await redis.lrange(key(pack), 0, TIMINGS_KEPT - 1);
      return entries.flatMap((entry) => {
        try {
          const run = JSON.parse(entry) as Partial<MeasuredRun>;
          const numbers = [run.steps, run.tokens, run.guidance, run.pixelFrames, run.stepSeconds, run.otherSeconds];
          return numbers.every((n) => typeof n === 'number' && Number.isFinite(n)) && typeof run.device === 'string'
            ? [run as MeasuredRun]
            : [];
        } catch {
          return [];
        }
      });
    },
  };
}
