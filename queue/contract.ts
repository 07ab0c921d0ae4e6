import { type Job, Queue, type QueueOptions } from 'bullmq';
import type { JobDataMap, JobName, JobResultMap } from '../commands/index.ts';

/**
 * A producer's queue, typed by the contract in commands/jobs.ts: `add` takes only this queue's job name and data, and
 * its jobs' return values are this queue's result.
 */
export type ContractQueue<TName extends JobName> = Queue<JobDataMap[TName], JobResultMap[TName], TName>;

/**
 * A job as its consumer receives it: the data is `unknown` until `parseJobData` has checked it (a payload can be older
 * than this process, or written by another version), the result is the contract's.
 */
export type ContractJob<TName extends JobName> = Job<unknown, JobResultMap[TName], TName>;

/** The queue `name` of the contract, for producers. */
export function openQueue<TName extends JobName>(name: TName, options: QueueOptions): ContractQueue<TName> {
  return new Queue<JobDataMap[TName], JobResultMap[TName], TName>(name, options);
}
