/**
 * `npm run bench:service`: the service's own latencies, with real Redis and SQLite (PostgreSQL with
 * `--database postgresql://…`). Prints figures; asserts nothing.
 *
 * 1. submit-to-ack at 200 concurrent submits from 200 users (goal p99 < 100 ms; platforms allow 3 s);
 * 2. enqueue-to-start on an idle worker (goal < 50 ms);
 * 3. queue throughput with a fast stand-in denoiser (the analytic model of `pusa trace`; VAE decode and MP4 encode
 *    are real);
 * 4. delivery time: last denoising step → the delivery callback (MP4 encode, blobs, artifact store, database).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { composeBot } from '../bot/compose.ts';
import { localServiceConfig } from '../bot/service.ts';
import { createAnalyticDenoiser } from '../cli/trace.ts';
import { type GenerateResult, JobName } from '../commands/index.ts';
import { createBlobStore } from '../queue/blobs.ts';
import { openQueue } from '../queue/contract.ts';
import { createGenerateProcessor } from '../worker/process-generate.ts';
import { loadPusaModel } from '../worker/runtime/model.ts';

const { values } = parseArgs({
  options: {
    database: { type: 'string' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    submits: { type: 'string', default: '200' },
    bursts: { type: 'string', default: '5' },
    jobs: { type: 'string', default: '40' },
  },
});
const dir = await mkdtemp(join(tmpdir(), 'pusa-bench-'));
const prefix = `bench-${process.pid}-${Date.now().toString(36)}`;
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

const delivered = new Map<string, number>();
const lastStep = new Map<string, number>();
// The bench is the front end of its jobs (platform `local`), as a chat adapter is of its own.
const bot = await composeBot(
  {
    // The start-up warm-up a bot runs (WARM_UP_SUBMITS, bot/core/warm-up.ts), at the size of the bursts below.
    service: localServiceConfig({
      redisUrl: values.redis,
      prefix,
      dir,
      databaseUrl: values.database,
      warmUpSubmits: Number(values.submits),
    }),
  },
  {
    frontEnds: {
      local: {
        deliver: async (d) => void delivered.set(d.jobId, performance.now()),
        update: (u) => {
          if (u.kind === 'progress' && u.step === u.total) lastStep.set(u.jobId, performance.now());
        },
      },
    },
  },
);
const { service } = bot;
const submit = (i: number, user: string) =>
  service.frontEnd.submit({
    requestKey: `${prefix}-${i}`,
    // Users and workspace of this run only: a PostgreSQL database kept between runs still holds the queued jobs of
    // earlier runs' users (their queue was obliterated, their rows were not), and their caps would refuse these.
    user: { platform: 'local', externalId: `${prefix}-${user}`, displayName: user },
    workspace: { platform: 'local', externalId: prefix, name: 'bench' },
    origin: { platform: 'local', channelId: 'bench' },
    request: { task: 't2v', prompt: 'a red circle moves left on a black background', steps: 4, frames: 17, seed: i },
  });

// 1. Submit-to-ack under a burst: the first one right after the start (its warm-up done), then more, each from 200
// users not seen before (the worst case: every one a first-time user), as a bot that has run a while meets them.
const submits = Number(values.submits);
const burst = async (round: number) => {
  const acks: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: submits }, async (_, i) => {
      const t0 = performance.now();
      const answer = await submit(100_000 * (round + 1) + i, `user-${round}-${i}`);
      acks.push(performance.now() - t0);
      if (!answer.ok) throw new Error(`submit ${i} refused: ${answer.error.message}`);
    }),
  );
  return { acks, ms: performance.now() - start };
};
const bursts = [];
for (let round = 0; round < Math.max(2, Number(values.bursts)); round++) bursts.push(await burst(round));
await service.generate.obliterate({ force: true });

// 2–4. An in-process worker with the stand-in denoiser.
const model = await loadPusaModel('models/pusa-mini');
const { channels } = model.pack.manifest.latent;
const standIn = { ...model, denoiser: () => createAnalyticDenoiser(16 * 16, channels) };
const connection = new Redis(values.redis, { maxRetriesPerRequest: null });
const deliverQueue = openQueue(JobName.Deliver, { connection, prefix });
const started = new Map<string, number>();
const processor = createGenerateProcessor({
  model: standIn,
  blobs: createBlobStore(connection, `${prefix}:blob`),
  deliver: deliverQueue,
  workerId: 'bench',
  previewEvery: 2,
  log: { info() {}, warn() {}, error() {} },
});
const worker = new Worker<unknown, GenerateResult, typeof JobName.Generate>(
  JobName.Generate,
  async (job, token, signal) => {
    started.set(String(job.id), performance.now());
    return processor(job, token, signal);
  },
  { connection, prefix, concurrency: 1 },
);
await worker.waitUntilReady();

const startLatency: number[] = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  const answer = await submit(1000 + i, `idle-${i}`);
  if (!answer.ok) throw answer.error;
  while (!started.has(answer.jobId)) await new Promise((r) => setImmediate(r));
  startLatency.push((started.get(answer.jobId) as number) - t0);
  while (!delivered.has(answer.jobId)) await new Promise((r) => setTimeout(r, 5));
}

const jobs = Number(values.jobs);
const ids: string[] = [];
const throughputStart = performance.now();
for (let i = 0; i < jobs; i++) {
  const answer = await submit(2000 + i, `tp-${i}`);
  if (!answer.ok) throw answer.error;
  ids.push(answer.jobId);
}
while (!ids.every((id) => delivered.has(id))) await new Promise((r) => setTimeout(r, 10));
const throughputS = (performance.now() - throughputStart) / 1000;
const deliveryMs = ids
  .filter((id) => lastStep.has(id))
  .map((id) => (delivered.get(id) as number) - (lastStep.get(id) as number));

process.stdout.write(
  `service benchmark (${values.database ? 'PostgreSQL' : 'SQLite'}, Redis ${values.redis}, node ${process.version})\n`,
);
const line = (what: string, acks: number[], ms: string) =>
  `  submit-to-ack, ${submits} concurrent submits (${what}): p50 ${fmt(percentile(acks, 50))}, p95 ${fmt(percentile(acks, 95))}, p99 ${fmt(percentile(acks, 99))}, max ${fmt(Math.max(...acks))}, ${ms} (goal p99 < 100 ms)\n`;
const [first, ...later] = bursts as [(typeof bursts)[number], ...typeof bursts];
process.stdout.write(line('first burst after the start', first.acks, `burst done in ${fmt(first.ms)}`));
process.stdout.write(
  line(
    `bursts 2–${bursts.length}, together`,
    later.flatMap((b) => b.acks),
    `each done in ${later.map((b) => b.ms.toFixed(0)).join(', ')} ms`,
  ),
);
process.stdout.write(
  `  enqueue-to-start on an idle worker: p50 ${fmt(percentile(startLatency, 50))}, max ${fmt(Math.max(...startLatency))} (goal < 50 ms)\n`,
);
process.stdout.write(
  `  throughput with the stand-in denoiser (17 frames, 4 steps, real VAE decode + MP4): ${(jobs / throughputS).toFixed(2)} jobs/s on one worker\n`,
);
process.stdout.write(
  `  delivery after the last step: p50 ${fmt(percentile(deliveryMs, 50))}, p99 ${fmt(percentile(deliveryMs, 99))}\n`,
);

await worker.close();
await deliverQueue.close();
await model.release();
await service.generate.obliterate({ force: true });
await bot.close();
connection.disconnect();
await rm(dir, { recursive: true, force: true });
process.exit(0);
