import { type GenerateJobData, JobName } from '../../commands/index.ts';
import type { ContractQueue } from '../../queue/contract.ts';

/**
 * Adds a `generate` job under the store's job id, with the retry and retention every producer uses (the front-end
 * core on submit, the reconciler when it re-enqueues a lost job). The job id makes it idempotent: adding a job whose
 * id BullMQ still holds adds nothing.
 */
export function enqueueGenerate(
  generate: ContractQueue<typeof JobName.Generate>,
  data: GenerateJobData,
  options: { priority: number; attempts: number },
): Promise<unknown> {
  return generate.add(JobName.Generate, data, {
    jobId: data.jobId,
    priority: options.priority,
    attempts: options.attempts,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 3600 },
    removeOnFail: { age: 86_400 },
  });
}
