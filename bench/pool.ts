/**
 * `npm run bench:pool -- --workers 1,2 --jobs 8`: how a queue drains with 1, 2, … workers of one host.
 *
 * For each worker count: a private Redis (or `--redis URL`, on a prefix of its own), the bot host's service (SQLite in a
 * temporary directory, the delivery consumer), and `npm run workers` (worker/pool.ts) with that many workers: the first
 * N GPUs (`--gpus 0,1`, else nvidia-smi's list) with `--device cuda`, or `WORKER_GPUS=cpu:N` with `--device cpu`. One
 * warm-up job per worker, then `--jobs` identical jobs submitted through the front end's `submit` (as the chat front
 * ends do); the drain time runs from the first submit to the last delivery. Prints the drain time per worker count
 * and the speed-up over the first count. Asserts nothing but exactly-once delivery: every job delivered once,
 * succeeded, none lost and none twice (exit 1 otherwise).
 *
 * On a CPU host the workers share the cores: that is a proxy of the GPU case, not a measurement of it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { composeBot } from '../bot/compose.ts';
import type { Delivery } from '../bot/core/events.ts';
import type { SubmitInput } from '../bot/core/front-end.ts';
import { localServiceConfig } from '../bot/service.ts';
import { loadModelPack } from '../pack/manifest.ts';
import { startLocalRedis } from '../scripts/local-redis.ts';
import { startPool } from '../scripts/worker-pool.ts';
import { parseNvidiaSmiIndices, runNvidiaSmi } from '../worker/pool-plan.ts';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2' },
    jobs: { type: 'string', default: '8' },
    device: { type: 'string', default: 'auto' },
    gpus: { type: 'string' },
    'model-dir': { type: 'string', default: process.env['MODEL_DIR'] ?? 'models/pusa-mini' },
    'ort-threads': { type: 'string', default: '1' },
    steps: { type: 'string' },
    frames: { type: 'string' },
    size: { type: 'string' },
    redis: { type: 'string' },
    'timeout-s': { type: 'string', default: '3600' },
  },
});
const counts = values.workers.split(',').map((n) => Number(n.trim()));
const jobs = Number(values.jobs);
if (counts.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(jobs) || jobs < 1) {
  process.stderr.write('usage: npm run bench:pool -- --workers 1,2 --jobs 8 [--device auto|cpu|cuda] [--gpus 0,1]\n');
  process.exit(2);
}
const hasNvidiaSmi = () => {
  try {
    runNvidiaSmi();
    return true;
  } catch {
    return false;
  }
};
const device = values.device === 'auto' ? (hasNvidiaSmi() ? 'cuda' : 'cpu') : values.device;
if (device !== 'cpu' && device !== 'cuda') throw new Error(`--device must be auto, cpu or cuda; got ${values.device}`);
const gpus =
  device === 'cuda'
    ? values.gpus !== undefined
      ? values.gpus.split(',').map((g) => Number(g.trim()))
      : parseNvidiaSmiIndices(runNvidiaSmi())
    : [];
if (device === 'cuda' && Math.max(...counts) > gpus.length) {
  throw new Error(`--workers asks for ${Math.max(...counts)} GPUs; this host has ${gpus.join(',')}`);
}
const modelDir = values['model-dir'];
const pack = await loadModelPack(modelDir);
const request: SubmitInput['request'] = {
  task: 't2v',
  prompt: 'a red circle moves right on a dark blue background',
  seed: 42,
  ...(values.steps === undefined ? {} : { steps: Number(values.steps) }),
  ...(values.frames === undefined ? {} : { frames: Number(values.frames) }),
  ...(values.size === undefined ? {} : { size: values.size.split('x').map(Number) as [number, number] }),
};
const timeoutMs = Number(values['timeout-s']) * 1000;

interface Run {
  readonly workers: number;
  readonly drainS: number;
  readonly workerSecondsPerJob: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly failed: number;
}

async function runWith(workers: number): Promise<Run> {
  const redis = values.redis === undefined ? await startLocalRedis() : undefined;
  const redisUrl = values.redis ?? (redis?.url as string);
  const dir = await mkdtemp(join(tmpdir(), 'pusa-bench-pool-'));
  const prefix = `bench-pool-${process.pid}-${workers}`;
  const deliveries: Array<{ at: number; delivery: Delivery }> = [];
  const bot = await composeBot(
    { service: localServiceConfig({ redisUrl, prefix, dir, modelDir }) },
    {
      frontEnds: { local: { deliver: async (delivery) => void deliveries.push({ at: performance.now(), delivery }) } },
    },
  );
  const { service } = bot;
  const pool = await startPool(
    {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      MODEL_DIR: modelDir,
      WORKER_GPUS: device === 'cpu' ? `cpu:${workers}` : gpus.slice(0, workers).join(','),
      WORKER_HEALTH_PORT: '0',
      LOG_LEVEL: 'warn',
      ...(device === 'cpu' ? { ORT_THREADS: values['ort-threads'] } : {}),
    },
    { timeoutMs: 600_000, log: (line) => (/"level":[56]0/.test(line) ? process.stderr.write(`${line}\n`) : undefined) },
  );
  let n = 0;
  const submit = async () => {
    n += 1;
    const answer = await service.frontEnd.submit({
      requestKey: `${prefix}-${n}`,
      // One user per job: the per-user queue cap must not be what limits the drain.
      user: { platform: 'local', externalId: `bench-${n}`, displayName: `bench-${n}` },
      workspace: { platform: 'local', externalId: 'bench', name: 'bench' },
      origin: { platform: 'local', channelId: 'bench' },
      request,
    });
    if (!answer.ok) throw new Error(`submit refused: ${answer.error.message}`);
    return answer.jobId;
  };
  const deliveredAll = async (ids: string[]) => {
    const deadline = Date.now() + timeoutMs;
    while (!ids.every((id) => deliveries.some((d) => d.delivery.jobId === id))) {
      if (Date.now() > deadline) break;
      if (pool.child.exitCode !== null) throw new Error(`the pool exited with ${pool.child.exitCode}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    // Warm-up: one job per worker (first runs pay for kernel selection and allocations).
    const warmUp = await Promise.all(Array.from({ length: workers }, submit));
    await deliveredAll(warmUp);

    const started = performance.now();
    const ids = await Promise.all(Array.from({ length: jobs }, submit));
    await deliveredAll(ids);
    const last = Math.max(...deliveries.filter((d) => ids.includes(d.delivery.jobId)).map((d) => d.at));
    // A late duplicate would arrive within a lock period; give it the chance to show.
    await new Promise((r) => setTimeout(r, 2000));

    const all = [...warmUp, ...ids];
    const times = (id: string) => deliveries.filter((d) => d.delivery.jobId === id).length;
    const succeeded = deliveries.filter((d) => d.delivery.kind === 'succeeded' && ids.includes(d.delivery.jobId));
    return {
      workers,
      drainS: (last - started) / 1000,
      workerSecondsPerJob:
        succeeded.reduce((s, d) => s + (d.delivery.kind === 'succeeded' ? d.delivery.gpuSeconds : 0), 0) /
        Math.max(1, succeeded.length),
      delivered: all.filter((id) => times(id) === 1).length,
      duplicates:
        all.filter((id) => times(id) > 1).length + deliveries.filter((d) => !all.includes(d.delivery.jobId)).length,
      lost: all.filter((id) => times(id) === 0).length,
      failed: deliveries.filter((d) => d.delivery.kind !== 'succeeded').length,
    };
  } finally {
    pool.child.kill('SIGTERM');
    await pool.exited;
    if (values.redis !== undefined) await service.generate.obliterate({ force: true }).catch(() => undefined);
    await bot.close();
    await redis?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

const { defaults, video } = pack.manifest;
process.stdout.write(
  `bench:pool: ${jobs} identical t2v jobs (${request.frames ?? video.defaultFrames} frames, ${request.steps ?? defaults.steps} steps, ` +
    `${(request.size ?? video.sizes[0] ?? []).join('x')}) of ${pack.manifest.name}, ` +
    (device === 'cpu'
      ? `CPU workers with ORT_THREADS=${values['ort-threads']} each on ${availableParallelism()} cores (a CPU proxy, not a GPU measurement)\n`
      : `one worker per GPU (${gpus.join(',')})\n`),
);
const runs: Run[] = [];
for (const workers of counts) {
  const run = await runWith(workers);
  runs.push(run);
  process.stdout.write(
    `  ${workers} worker${workers === 1 ? ' ' : 's'}: drained in ${run.drainS.toFixed(2)} s ` +
      `(${(jobs / run.drainS).toFixed(2)} jobs/s, ${run.workerSecondsPerJob.toFixed(2)} s per job on its worker); ` +
      `delivered once ${run.delivered}/${jobs + workers}, duplicates ${run.duplicates}, lost ${run.lost}, failed ${run.failed}\n`,
  );
}
const base = runs[0] as Run;
for (const run of runs.slice(1)) {
  process.stdout.write(
    `speed-up ${run.workers} vs ${base.workers} workers: ${(base.drainS / run.drainS).toFixed(2)}x ` +
      `(drain time ratio ${(run.drainS / base.drainS).toFixed(2)}; ideal ${(base.workers / run.workers).toFixed(2)})\n`,
  );
}
const exactlyOnce = runs.every((r) => r.duplicates === 0 && r.lost === 0 && r.failed === 0);
process.stdout.write(`exactly once: ${exactlyOnce ? 'yes' : 'NO'}\n`);
process.exit(exactlyOnce ? 0 : 1);
