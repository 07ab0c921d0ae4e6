/**
 * A bot's start-up warm-up, before it answers anyone: the code a burst of submits runs, run once at burst size with
 * nothing kept. Measured on a 2-core machine (docs/benchmarks.md, service), the first burst of 200 submits after a
 * start took about twice as long as the next one: every batch statement, the quota decisions, BullMQ's `addBulk` and
 * the position reading ran for the first time, unoptimised. The store runs its statements in a rolled-back
 * transaction (prisma/warm-up.ts); the queue's adds go to a scratch prefix no worker reads, which is then deleted.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type GenerateJobData, GenerationRequest, JobName } from '../../commands/index.ts';
import type { Store } from '../../prisma/types.ts';
import { openQueue } from '../../queue/contract.ts';
import { enqueueGenerateMany } from './enqueue.ts';

export interface WarmUpDeps {
  store: Store;
  /** A Redis connection of the core's (the scratch queue shares it; it is not closed here). */
  redis: Redis;
  prefix: string;
  jobAttempts: number;
  /** The core's position reading, asked as each submit's answer asks it. */
  place: (ask: { priority: number; ownSeconds: number; added?: number }) => Promise<unknown>;
}

/**
 * Passes over the burst's code. V8 optimises a function only after it has run many times: after one pass the first
 * burst still took ~1.3× the later ones, after five it took what they take (2-core machine, docs/benchmarks.md).
 */
const PASSES = 5;

export async function warmUp(deps: WarmUpDeps, size: number): Promise<void> {
  for (let pass = 0; size > 0 && pass < PASSES; pass++) await warmUpOnce(deps, size);
}

async function warmUpOnce(deps: WarmUpDeps, size: number): Promise<void> {
  await deps.store.warmUp(size);
  const requests = Array.from({ length: size }, (_, i) =>
    GenerationRequest.parse({ task: 't2v', prompt: 'warm-up', seed: i, images: [], clips: [] }),
  );
  const scratch = openQueue(JobName.Generate, {
    connection: deps.redis,
    prefix: `${deps.prefix}:warm-up:${randomUUID()}`,
  });
  try {
    const jobs = requests.map((request, i) => ({
      data: {
        v: 1,
        jobId: randomUUID(),
        requestId: randomUUID(),
        request,
        origin: { platform: 'local', ephemeral: false, workspaceId: 'warm-up', userId: 'warm-up' },
        estimatedSeconds: 1,
      } satisfies GenerateJobData,
      priority: 1 + (i % 3),
    }));
    await enqueueGenerateMany(scratch, jobs, deps.jobAttempts);
  } finally {
    await scratch.obliterate({ force: true });
    await scratch.close();
  }
  await Promise.all(requests.map((_, i) => deps.place({ priority: 1 + (i % 3), ownSeconds: 1, added: i })));
}
