import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BotStartProblem, composeBot } from '../bot/compose.ts';
import { localServiceConfig } from '../bot/service.ts';
import { redisForDemo } from '../scripts/local-redis.ts';
import { startWorker, type WorkerProcess } from '../scripts/worker-pool.ts';
import { createRunFolder } from './run-folder.ts';

/**
 * `npm run demo`: the whole stack on one machine — Redis (the one at REDIS_URL, else a private redis-server),
 * SQLite, a worker with pusa-mini and the web playground — and prints its URL. `--once` runs a scripted session
 * through the playground's own HTTP API (every task, an extension, a cancel and an operator action) and exits.
 *
 * Isolation: a demo shares a Redis with whatever else uses it (a production bot, another demo), so its queues live
 * under a prefix of its own — QUEUE_PREFIX when set, else `pusa-demo-<port>` — and its database and artifacts under
 * `data/demo-<port>/` (DATABASE_URL and ARTIFACT_DIR override them), never the bot's defaults (`pusa`, `data/`).
 * `--once` uses a prefix of its own process and writes only into a new `out/demo-<date>-<time>/`.
 */
const { values } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    port: { type: 'string', default: process.env['PLAYGROUND_PORT'] ?? '8787' },
    host: { type: 'string', default: process.env['PLAYGROUND_HOST'] ?? '127.0.0.1' },
  },
});
const say = (line: string) => process.stdout.write(`demo: ${line}\n`);
const port = values.once ? 0 : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`demo: --port expects a port number 0..65535 (0 picks a free one), got "${values.port}"\n`);
  process.exit(2);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
// Per port: two demos on one machine never share queues or a database, and a restart on the same port finds its own.
const instance = port === 0 ? `pid${process.pid}` : String(port);
const runDir = values.once ? await createRunFolder('demo') : undefined;
const dataDir = runDir ?? join('data', `demo-${instance}`);
const prefix = values.once
  ? `${env['QUEUE_PREFIX'] ?? 'pusa-demo'}-once-${process.pid}`
  : (env['QUEUE_PREFIX'] ?? `pusa-demo-${instance}`);

const redis = await redisForDemo(env);
const redisUrl = redis.url;
const config = {
  ...localServiceConfig({
    redisUrl,
    prefix,
    dir: dataDir,
    databaseUrl: values.once ? undefined : env['DATABASE_URL'],
    modelDir: join(root, 'models/pusa-mini'),
  }),
  ...(!values.once && env['ARTIFACT_DIR'] !== undefined ? { ARTIFACT_DIR: env['ARTIFACT_DIR'] } : {}),
};
const adminToken = env['PLAYGROUND_ADMIN_TOKEN'];
const bot = await composeBot(
  { service: config, playground: { host: values.host, port, ...(adminToken === undefined ? {} : { adminToken }) } },
  {
    // What the browser is told about lost and failed jobs is said on the terminal too: a demo must not fail quietly.
    watch: {
      delivered: (d) => {
        if (d.kind === 'failed') say(`job ${d.jobId} failed (${d.code}): ${d.message}`);
      },
      update: (u) => {
        if (u.kind === 'requeued') say(`job ${u.jobId} went back to the queue: ${u.reason}`);
      },
    },
  },
).catch(async (error: unknown) => {
  await redis.release();
  if (error instanceof BotStartProblem) {
    const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
    const why =
      code === 'EADDRINUSE'
        ? 'another program, perhaps another demo, is using it'
        : code === 'EACCES'
          ? 'not allowed to use that port'
          : 'that address is not on this host';
    process.stderr.write(
      `demo: cannot listen on ${values.host}:${port} (${why}); choose another port: npm run demo -- --port ${port + 1} (or --port 0 for any free one)\n`,
    );
    process.exit(1);
  }
  throw error;
});
const { service, playground } = bot;
if (playground === undefined) throw new Error('the demo was composed without its playground');

// The demo's worker, restarted when it dies. Its job's lock is short, so a job a dead worker held goes back to the
// queue a few seconds after the new worker starts checking for stalled jobs, instead of showing "step 3/50" forever.
const LOCK_SECONDS = 4;
let worker: WorkerProcess;
let workers = 0;
let stopping = false;
const deaths: number[] = [];
const lastLines: string[] = [];
async function superviseWorker(): Promise<WorkerProcess> {
  workers += 1;
  const started = await startWorker(
    `demo-worker-${process.pid}-${workers}`,
    {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      MODEL_DIR: config.MODEL_DIR,
      LOG_LEVEL: 'warn',
      LOCK_DURATION_MS: String(LOCK_SECONDS * 1000),
      STALLED_INTERVAL_MS: '2000',
    },
    (line) => {
      // Kept to explain a worker that fails to start; a running worker's log stays off the demo's terminal.
      lastLines.push(line);
      if (lastLines.length > 8) lastLines.shift();
    },
  );
  const pid = started.child.pid;
  started.child.once('exit', (code, signal) => {
    if (stopping) return;
    const now = Date.now();
    deaths.push(now);
    const recent = deaths.filter((t) => now - t < 60_000).length;
    const how = signal === null ? `exit code ${code}` : `killed by ${signal}`;
    if (recent > 3) {
      say(`the worker (pid ${pid}) stopped again (${how}), the fourth time in a minute; stopping the demo`);
      void stop().then(() => process.exit(1));
      return;
    }
    say(
      `the worker (pid ${pid}) stopped unexpectedly (${how}); starting another. A job it was running goes back to the queue about ${LOCK_SECONDS} s after the new one is ready, and starts again`,
    );
    superviseWorker().then(
      (next) => {
        worker = next;
        say(`a new worker (pid ${next.child.pid}) is ready`);
      },
      (error: unknown) => {
        say(`could not start a new worker: ${(error as Error).message}\n${lastLines.join('\n')}`);
        void stop().then(() => process.exit(1));
      },
    );
  });
  return started;
}
worker = await superviseWorker().catch(async (error: unknown) => {
  say(`the worker did not start: ${(error as Error).message}\n${lastLines.join('\n')}`);
  await bot.close();
  await redis.release();
  process.exit(1);
});

async function stop(): Promise<void> {
  stopping = true;
  if (worker.child.exitCode === null && worker.child.signalCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await bot.close();
  await redis.release();
}
// Ctrl-C reaches the worker too (one process group); it finishes its current job. A second Ctrl-C stops at once (the
// job is picked up again by the next demo on this port). The private redis-server is in a group of its own, so it is
// still there while everything disconnects from it.
// A Ctrl-C typed under `npm run` arrives twice (from the terminal, and forwarded by npm): signals within a second of
// the first are the same keypress.
let firstSignalAt: number | undefined;
const onSignal = () => {
  const now = Date.now();
  if (firstSignalAt !== undefined && now - firstSignalAt < 1000) return;
  if (firstSignalAt === undefined) {
    firstSignalAt = now;
    say('stopping: the worker finishes the job it is running first (Ctrl-C again to stop at once)');
    void stop().then(() => process.exit(0));
    return;
  }
  worker.child.kill('SIGKILL');
  void redis.release().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

if (!values.once) {
  process.stdout.write(
    `playground at ${playground.url} (operator dashboard at ${playground.url}/admin); Ctrl-C stops it\n` +
      `demo: queues under "${prefix}" on ${redis.private ? `a private redis-server (${redisUrl})` : redisUrl}, database ${config.DATABASE_URL.replace(/^file:/, '')}, worker pid ${worker.child.pid}\n`,
  );
} else {
  const call = async (path: string, body: unknown) =>
    (
      await fetch(`${playground.url}${path}?user=demo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': playground.csrfToken },
        body: JSON.stringify(body),
      })
    ).json() as Promise<{ ok: boolean; jobId?: string; error?: string }>;
  const image = async (name: string, latentIndex?: number) => ({
    name,
    data: (await readFile(join(root, 'samples', name))).toString('base64'),
    ...(latentIndex === undefined ? {} : { latentIndex }),
  });
  const waitFor = async (jobId: string) => {
    for (;;) {
      const job = await service.store.job(jobId);
      if (job !== null && ['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const requests = [
    { text: '/t2v a red circle moves right on a dark blue background --steps 6' },
    {
      text: '/animate a yellow star moves up on a black background --steps 6',
      images: [await image('yellow-star.png')],
    },
    {
      text: '/start-end a red circle moves right on a dark blue background --steps 6',
      images: [await image('red-circle-start.png'), await image('red-circle-end.png')],
    },
    {
      text: '/keyframes a green square moves down on a gray background --steps 6 --frames 17',
      images: [await image('green-square-top.png', 0), await image('green-square-bottom.png', 4)],
    },
  ];
  let completed = 0;
  let total = 0;
  const finished = [];
  for (const request of requests) {
    total += 1;
    const answer = await call('/api/command', request);
    if (!answer.ok || answer.jobId === undefined) throw new Error(`${request.text}: ${answer.error}`);
    finished.push(await waitFor(answer.jobId));
  }
  const [first, second] = finished;
  total += 1;
  const extend = await call('/api/action', { action: 'extend', jobId: first?.id });
  if (extend.ok && extend.jobId !== undefined) finished.push(await waitFor(extend.jobId));
  total += 1;
  const transition = await call('/api/command', {
    text: `/transition ${first?.clip?.id} ${second?.clip?.id} a yellow star moves up on a black background --steps 6`,
  });
  if (transition.ok && transition.jobId !== undefined) finished.push(await waitFor(transition.jobId));
  // A queued job cancelled while an operator holds the queue, then released.
  const admin = (action: string) =>
    fetch(`${playground.url}/api/admin/${action}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-csrf-token': playground.csrfToken,
        ...(adminToken === undefined ? {} : { authorization: `Bearer ${adminToken}` }),
      },
      body: '{}',
    });
  total += 1;
  await admin('pause');
  const queued = await call('/api/command', { text: '/t2v a blue square moves up on a black background' });
  const cancelled =
    queued.jobId === undefined ? { ok: false } : await call('/api/action', { action: 'cancel', jobId: queued.jobId });
  await admin('resume');
  completed = finished.filter((j) => j.status === 'succeeded').length + (cancelled.ok ? 1 : 0);
  for (const [i, job] of finished.entries())
    if (job.clip !== null)
      await copyFile(service.artifacts.absolute(job.clip.mp4Path), join(dataDir, `${i + 1}-${job.task}.mp4`));
  process.stdout.write(
    `demo: ${completed}/${total} requests completed, clips in ${dataDir}/, playground at ${playground.url}\n`,
  );
  await stop();
  process.exit(completed === total ? 0 : 1);
}
