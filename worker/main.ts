import { createServer } from 'node:http';
import process from 'node:process';
import { inspect } from 'node:util';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type GenerateResult, JobName } from '../commands/index.ts';
import { secretScrubber } from '../commands/secrets.ts';
import { loadModelPack } from '../pack/manifest.ts';
import { createBlobStore } from '../queue/blobs.ts';
import { openQueue } from '../queue/contract.ts';
import { cancelChannel, cancelKey } from '../queue/names.ts';
import { redisProblem } from '../queue/redis-check.ts';
import { createTimingBook } from '../queue/timings.ts';
import { loadWorkerConfig } from './config.ts';
import { DEVICE_LOST_EXIT_CODE, DeviceLostError } from './device-errors.ts';
import { gpuComputeCapability, gpuTotalBytes } from './gpu-memory.ts';
import { createGenerateProcessor } from './process-generate.ts';
import { MEMORY_PROFILES, type Placement, refuseIfTooBig } from './runtime/memory-profile.ts';
import { loadPusaModel } from './runtime/model.ts';
import { fp8Graphs, refuseUnsupportedQuant } from './runtime/quant-support.ts';
import type { ExecutionProvider } from './runtime/sessions.ts';
import { withInjectedFaults } from './test-faults.ts';

/**
 * `npm run worker`: one GPU (or CPU) worker. Loads the model pack once, takes one job at a time from the shared
 * `generate` queue, and hands results to the `deliver` queue. Any number of these, on any number of hosts, share one
 * Redis.
 */
const config = loadWorkerConfig();
// Every line this process writes loses the password of REDIS_URL (and of a DATABASE_URL in its environment).
const scrub = secretScrubber([config.REDIS_URL, process.env['DATABASE_URL']]);
const log = pino({
  level: config.LOG_LEVEL,
  base: { service: 'worker', workerId: config.WORKER_ID },
  hooks: { streamWrite: scrub },
});
const crash = (error: unknown) => {
  process.stderr.write(`worker: unexpected failure: ${scrub(inspect(error))}\n`);
  process.exit(1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
// Before the model (seconds to load): a wrong REDIS_URL is said at once, in one line, with no password in it.
const redisTrouble = await redisProblem(config.REDIS_URL);
if (redisTrouble !== undefined) {
  process.stderr.write(`worker: ${redisTrouble}\n`);
  process.exit(1);
}

const profile = MEMORY_PROFILES[config.MEMORY_PROFILE];
const placement: Placement = {
  guidance: config.GUIDANCE ?? profile.guidance,
  textEncoder: config.TEXT_ENCODER ?? profile.textEncoder,
  vae: config.VAE_SESSIONS ?? profile.vae,
  vaeTiles: config.VAE_TILES ?? profile.vaeTiles,
  dit: config.DIT_SESSION ?? profile.dit,
};
const provider: ExecutionProvider =
  config.EXECUTION_PROVIDER === 'cuda'
    ? { name: 'cuda', deviceId: config.CUDA_DEVICE_ID }
    : config.ORT_THREADS === undefined
      ? { name: 'cpu' }
      : { name: 'cpu', threads: config.ORT_THREADS };
const pack = await loadModelPack(config.MODEL_DIR);
// Before any session: an fp8 pack on the CPU or on a GPU older than Ada is refused now, not at its first job's step.
if (fp8Graphs(pack.manifest).length > 0) {
  const capability =
    provider.name === 'cuda' ? await gpuComputeCapability(provider.deviceId, config.GPU_COMPUTE_CAPABILITY) : undefined;
  if (provider.name === 'cuda' && capability === undefined)
    log.warn(
      'nvidia-smi did not answer: starting the fp8 pack without the compute capability check (set GPU_COMPUTE_CAPABILITY)',
    );
  const refusal = refuseUnsupportedQuant(pack.manifest, provider, capability);
  if (refusal !== undefined) {
    process.stderr.write(`worker: ${refusal}\n`);
    process.exit(1);
  }
}
if (provider.name === 'cuda') {
  // Before any session: a pack that cannot fit the GPU is refused now, with the fix, not out of memory mid-job.
  const gpuBytes = await gpuTotalBytes(provider.deviceId, config.GPU_MEMORY_GIB);
  const customised =
    config.GUIDANCE ?? config.TEXT_ENCODER ?? config.VAE_SESSIONS ?? config.VAE_TILES ?? config.DIT_SESSION;
  const refusal =
    gpuBytes === undefined
      ? undefined
      : refuseIfTooBig(pack, customised === undefined ? config.MEMORY_PROFILE : 'custom', placement, gpuBytes);
  if (gpuBytes === undefined)
    log.warn('nvidia-smi did not answer: starting without the GPU memory check (set GPU_MEMORY_GIB)');
  if (refusal !== undefined) {
    process.stderr.write(`worker: ${refusal}\n`);
    process.exit(1);
  }
}
const loaded = await loadPusaModel(config.MODEL_DIR, provider, {
  batchGuidance: placement.guidance === 'batched',
  textEncoder: placement.textEncoder,
  vae: placement.vae,
  vaeTiles: placement.vaeTiles,
  dit: placement.dit,
});
const model = withInjectedFaults(loaded, process.env, config.WORKER_ID);
log.info(
  { model: `${model.pack.manifest.name}@${model.pack.manifest.version}`, provider: model.provider, placement },
  'model loaded',
);

const connection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
const subscriber = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
for (const client of [connection, subscriber])
  client.on('error', (error) => log.warn({ err: error.message }, 'redis connection error'));
const blobs = createBlobStore(connection, `${config.QUEUE_PREFIX}:blob`);
const deliver = openQueue(JobName.Deliver, { connection, prefix: config.QUEUE_PREFIX });
// Read by /long segments whose child failed for good (worker/chain.ts): where the chain stood before it.
const generateQueue = openQueue(JobName.Generate, { connection, prefix: config.QUEUE_PREFIX });

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const jobsTotal = new Counter({
  name: 'pusa_worker_jobs_total',
  help: 'generate jobs by outcome',
  labelNames: ['outcome'],
  registers: [registry],
});
const runSeconds = new Histogram({
  name: 'pusa_worker_run_seconds',
  help: 'time from start to delivery hand-off',
  buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600],
  registers: [registry],
});
const waitSeconds = new Histogram({
  name: 'pusa_worker_wait_seconds',
  help: 'time a job waited in the queue before this worker took it',
  buckets: [0.05, 0.5, 1, 5, 15, 60, 300, 900, 3600],
  registers: [registry],
});
const gpuSeconds = new Counter({
  name: 'pusa_worker_gpu_seconds_total',
  help: 'seconds spent running jobs (what quotas charge)',
  registers: [registry],
});
const failures = new Counter({
  name: 'pusa_worker_failures_total',
  help: 'failed jobs by cause',
  labelNames: ['cause'],
  registers: [registry],
});
const busy = new Gauge({ name: 'pusa_worker_busy', help: '1 while a job runs', registers: [registry] });

let current: string | undefined;
const process_ = createGenerateProcessor({
  model,
  blobs,
  deliver,
  workerId: config.WORKER_ID,
  previewEvery: config.PREVIEW_EVERY,
  timings: createTimingBook(connection, config.QUEUE_PREFIX),
  device: config.EXECUTION_PROVIDER === 'cuda' ? `cuda:${config.CUDA_DEVICE_ID}` : 'cpu',
  segmentResult: async (bullId) => (await generateQueue.getJob(bullId))?.returnvalue,
  cancelRequested: async (jobId) => (await connection.exists(cancelKey(config.QUEUE_PREFIX, jobId))) === 1,
  log,
});
// `unknown` data: the processor parses it (the contract's GenerateJobData) before anything reads it.
const worker = new Worker<unknown, GenerateResult, typeof JobName.Generate>(
  JobName.Generate,
  async (job, token, signal) => {
    current = job.id;
    busy.set(1);
    waitSeconds.observe(Math.max(0, (Date.now() - job.timestamp) / 1000));
    const end = runSeconds.startTimer();
    try {
      const result = await process_(job, token, signal);
      // A /long segment that stopped its chain (or passed a stopped one on) returns rather than throws: count it so.
      const stopped = result.chain?.stopped?.reason;
      jobsTotal.inc({ outcome: stopped ?? 'succeeded' });
      gpuSeconds.inc(result.gpuSeconds);
      return result;
    } catch (error) {
      // Cancelled through the signal (pub/sub) or the durable record (the processor's UnrecoverableError('cancelled')).
      const cancelled = signal?.aborted === true || (error as Error).message === 'cancelled';
      jobsTotal.inc({ outcome: cancelled ? 'cancelled' : 'failed' });
      if (!cancelled)
        failures.inc({ cause: (error as { code?: string; name?: string }).code ?? (error as Error).name ?? 'Error' });
      // The GPU failed: every later session.run on it would fail too. Stop taking jobs now (before BullMQ fetches the
      // next one with this job's failure), let the failure reach Redis (the job is retried elsewhere), and exit with
      // the code the pool (worker/pool.ts) and systemd restart on.
      if (error instanceof DeviceLostError) void shutdown('device lost', DEVICE_LOST_EXIT_CODE);
      throw error;
    } finally {
      end();
      busy.set(0);
      current = undefined;
    }
  },
  {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: 1,
    // Shown by Queue.getWorkers() (the operator dashboard): which host and GPU this is.
    name: config.WORKER_ID,
    lockDuration: config.LOCK_DURATION_MS,
    stalledInterval: config.STALLED_INTERVAL_MS,
    maxStalledCount: 3,
  },
);
worker.on('error', (error) => log.error({ err: error.message }, 'worker error'));

// Cancellation reaches whichever worker runs the job through a pub/sub channel.
await subscriber.subscribe(cancelChannel(config.QUEUE_PREFIX));
subscriber.on('message', (_channel, jobId: string) => {
  if (worker.cancelJob(jobId, 'cancelled by the user')) log.info({ jobId }, 'cancelling job');
});

const health = createServer(async (req, res) => {
  if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
    return;
  }
  const ok = worker.isRunning() && connection.status === 'ready';
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok, workerId: config.WORKER_ID, model: model.pack.manifest.name, job: current ?? null }));
});
// A taken port ends the start with one line naming the setting, as the bot does (bot/listen.ts), not a stack trace.
health.once('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') throw error;
  process.stderr.write(
    `worker: cannot listen on 127.0.0.1:${config.WORKER_HEALTH_PORT} (${error.code === 'EADDRINUSE' ? 'another program is using it' : 'not allowed to use that port'}); set WORKER_HEALTH_PORT to another port (0 picks a free one)\n`,
  );
  process.exit(1);
});
health.listen(config.WORKER_HEALTH_PORT, '127.0.0.1', () => {
  const address = health.address();
  log.info(
    { port: typeof address === 'object' && address !== null ? address.port : config.WORKER_HEALTH_PORT },
    'worker ready',
  );
  process.send?.({ ready: true, workerId: config.WORKER_ID });
});

let stopping = false;
async function shutdown(signal: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (code === DEVICE_LOST_EXIT_CODE) log.error({ job: current ?? null }, 'device lost: failing the job back, exiting');
  else log.info({ signal, job: current ?? null }, 'stopping: finishing the current job first');
  // close() stops taking jobs and waits for the running one (or, after a device error, for its failure to be
  // recorded); its lock keeps it ours until then.
  await worker.close();
  // Releasing sessions on a lost GPU can hang in the driver; the process exit frees them anyway.
  const release = code === DEVICE_LOST_EXIT_CODE ? Promise.resolve() : model.release();
  await Promise.allSettled([deliver.close(), generateQueue.close(), subscriber.quit(), release]);
  await connection.quit().catch(() => undefined);
  health.close();
  log.info({ code }, 'stopped');
  process.exit(code);
}
// `on`, not `once`: under the pool (or systemd's control-group kill) SIGTERM can arrive twice, and the second must not
// kill the job the first lets finish.
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// Started by a parent process (a demo or a test harness): leave with it rather than linger as an orphan.
process.once('disconnect', () => void shutdown('parent exited'));
process.once('SIGINT', () => void shutdown('SIGINT'));
