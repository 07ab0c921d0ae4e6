import {
  type ChainLink,
  ChainResult,
  type FinishedSegment,
  type GenerateJobData,
  type GenerateResult,
  type JobName,
  segmentJobId,
} from '../commands/index.ts';
import type { ContractJob } from '../queue/contract.ts';

/** Why the chain stopped before this segment, as the segments after it pass it on. */
export type ChainStop = NonNullable<ChainResult['stopped']>;

/**
 * What the segment before this one left (its child in the flow): the chain so far, or why there is nothing to
 * continue from — it failed for good (its workers kept dying: BullMQ moved it to this job's ignored failures).
 */
export async function previousSegment(
  job: ContractJob<typeof JobName.Generate>,
  data: GenerateJobData,
  link: ChainLink,
  resultOf: ((bullId: string) => Promise<unknown>) | undefined,
): Promise<{ segments: FinishedSegment[]; stopped?: ChainStop }> {
  if (link.index === 1) return { segments: [] };
  const chainIn = (value: unknown) => ChainResult.safeParse((value as Partial<GenerateResult> | null)?.chain);
  for (const value of Object.values(await job.getChildrenValues())) {
    const parsed = chainIn(value);
    if (parsed.success)
      return parsed.data.stopped === undefined
        ? { segments: parsed.data.segments }
        : { segments: parsed.data.segments, stopped: parsed.data.stopped };
  }
  const failures = Object.values(await job.getIgnoredChildrenFailures());
  const stopped: ChainStop = {
    reason: 'failed',
    code: 'WorkerError',
    message: `segment ${link.index - 1} could not be made${failures[0] === undefined ? '' : ` (${failures[0]})`}`,
  };
  // The chain up to the last segment that did finish: each segment's own result holds it.
  for (let index = link.index - 2; index >= 1 && resultOf !== undefined; index--) {
    const parsed = chainIn(await resultOf(segmentJobId(data.jobId, index)));
    if (parsed.success) return { segments: parsed.data.segments, stopped: parsed.data.stopped ?? stopped };
  }
  return { segments: [], stopped };
}

/**
 * This segment's return value when it does no work: the chain as it was, stopped. Its parent (the next segment,
 * or the root that delivers) runs on it, so a stopped chain still ends with what it made.
 */
export function passOn(
  data: GenerateJobData,
  link: ChainLink,
  segments: FinishedSegment[],
  stopped: ChainStop,
): GenerateResult {
  return {
    jobId: data.jobId,
    gpuSeconds: 0,
    mp4Key: '',
    latentsKey: '',
    chain: { index: link.index, count: link.count, segments, stopped },
  };
}
