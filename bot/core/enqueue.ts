import { type GenerateJobData, JobName } from '../../commands/index.ts';
import type { ContractQueue } from '../../queue/contract.ts';

/** The retry and retention every producer of `generate` jobs uses, under the store's job id. */
const jobOptions = (data: GenerateJobData, options: { priority: number; attempts: number }) => ({
  jobId: data.jobId,
  priority: options.priority,
  attempts: options.attempts,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 86_400 },
});

/**
 * Adds a `generate` job under the store's job id (the front-end core on submit, the reconciler when it re-enqueues
 * a lost job). The job id makes it idempotent: adding a job whose id BullMQ still holds adds nothing.
 */
export function enqueueGenerate(
  generate: ContractQueue<typeof JobName.Generate>,
  data: GenerateJobData,
  options: { priority: number; attempts: number },
): Promise<unknown> {
  return generate.add(JobName.Generate, data, jobOptions(data, options));
}

/** Many `generate` jobs in one round trip (BullMQ's addBulk: one MULTI), each as `enqueueGenerate` adds it. */
export function enqueueGenerateMany(
  generate: ContractQueue<typeof JobName.Generate>,
  jobs: readonly { data: GenerateJobData; priority: number }[],
  attempts: number,
): Promise<unknown> {
  return generate.addBulk(
    jobs.map(({ data, priority }) => ({
      name: JobName.Generate,
      data,
      opts: jobOptions(data, { priority, attempts }),
    })),
  );
}
