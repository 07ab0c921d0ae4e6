import { readFile, rm } from 'node:fs/promises';
import process from 'node:process';
import { composeBot } from '../bot/compose.ts';
import type { Delivery } from '../bot/core/events.ts';
import type { SubmitInput } from '../bot/core/front-end.ts';
import { localServiceConfig } from '../bot/service.ts';
import { redisForDemo } from '../scripts/local-redis.ts';
import { startWorker, type WorkerProcess } from '../scripts/worker-pool.ts';

/**
 * `npm run -s demo:service`: the whole service on one machine with pusa-mini and no chat platform. Submits 20 mixed
 * jobs from four users through the front-end core, kills a busy worker with SIGKILL and starts another, and ends
 * with one line: `service: submitted 20, delivered 20, duplicates 0, lost 0, charged 20`.
 */
const verbose = process.argv.includes('--verbose');
const say = (line: string) => {
  if (verbose) process.stderr.write(`${line}\n`);
};
const dataDir = 'out/service-demo';
await rm(dataDir, { recursive: true, force: true });

const redis = await redisForDemo(process.env);
const redisUrl = redis.url;
const prefix = `demo-${process.pid}`;
const config = localServiceConfig({ redisUrl, prefix, dir: dataDir });

const deliveries = new Map<string, Delivery[]>();
let firstClip: string | undefined;
let onDelivered: (() => void) | undefined;
// The demo is the front end of its jobs (platform `local`): it submits through the core and collects the deliveries.
const bot = await composeBot(
  { service: config },
  {
    frontEnds: {
      local: {
        deliver: async (delivery) => {
          const list = deliveries.get(delivery.jobId) ?? [];
          list.push(delivery);
          deliveries.set(delivery.jobId, list);
          if (delivery.kind === 'succeeded') firstClip ??= delivery.clipId;
          say(
            `delivered ${delivery.jobId} ${delivery.kind}${delivery.kind === 'failed' ? `: ${delivery.message}` : ''}`,
          );
          onDelivered?.();
        },
        update: (update) => {
          if (update.kind === 'progress' && update.step >= 2) busyWorker(update.jobId, update.workerId);
        },
      },
    },
  },
);
const { service } = bot;

const workerEnv = {
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: prefix,
  MODEL_DIR: config.MODEL_DIR,
  LOG_LEVEL: 'warn',
  LOCK_DURATION_MS: '4000',
  STALLED_INTERVAL_MS: '2000',
  ORT_THREADS: '1',
};
const workers: WorkerProcess[] = await Promise.all([
  startWorker('worker-a', workerEnv, say),
  startWorker('worker-b', workerEnv, say),
]);

// Kill the first worker that is busy, once, and start a replacement.
let killed = false;
function busyWorker(jobId: string, workerId: string | undefined): void {
  const victim = workers.find((w) => w.id === workerId);
  if (killed || victim === undefined) return;
  killed = true;
  void (async () => {
    say(`SIGKILL ${victim.id} while it runs ${jobId}`);
    victim.child.kill('SIGKILL');
    await victim.exited;
    workers.push(await startWorker('worker-c', workerEnv, say));
  })();
}

const image = (name: string) => readFile(`samples/${name}`);
const users = ['ada', 'grace', 'alan', 'edsger'];
const requests: SubmitInput['request'][] = [];
for (let i = 0; i < 18; i++) {
  const kind = i % 4;
  if (kind === 0)
    requests.push({ task: 't2v', prompt: 'a red circle moves right on a dark blue background', steps: 4, seed: i });
  if (kind === 1)
    requests.push({
      task: 'i2v',
      prompt: 'a yellow star moves up on a black background',
      steps: 4,
      seed: i,
      images: [{ bytes: await image('yellow-star.png') }],
    });
  if (kind === 2)
    requests.push({
      task: 'start-end',
      prompt: 'a red circle moves right on a dark blue background',
      steps: 4,
      seed: i,
      images: [{ bytes: await image('red-circle-start.png') }, { bytes: await image('red-circle-end.png') }],
    });
  if (kind === 3)
    requests.push({
      task: 'keyframes',
      prompt: 'a green square moves down on a gray background',
      steps: 4,
      seed: i,
      frames: 17,
      images: [
        { bytes: await image('green-square-top.png'), latentIndex: 0 },
        { bytes: await image('green-square-bottom.png'), latentIndex: 4 },
      ],
    });
}

// The demo's users each queue five jobs at once: raise the workspace's per-user cap (default 3) as an admin would.
const workspace = await service.store.ensureWorkspace({ platform: 'local', externalId: 'demo', name: 'demo' });
await service.store.setWorkspaceLimits(workspace.id, { userMaxQueuedJobs: 8 });

const started = performance.now();
const submitted: string[] = [];
const submitOne = async (request: SubmitInput['request'], i: number) => {
  const user = users[i % users.length] as string;
  const answer = await service.frontEnd.submit({
    requestKey: `demo-${process.pid}-${i}`,
    user: { platform: 'local', externalId: user, displayName: user },
    workspace: { platform: 'local', externalId: 'demo', name: 'demo' },
    origin: { platform: 'local', channelId: 'demo' },
    request,
  });
  if (!answer.ok) throw new Error(`submit ${i} refused: ${answer.error.message}`);
  submitted.push(answer.jobId);
  say(`queued ${answer.jobId} (${request.task}) for ${user}: position ${answer.position}, ETA ${answer.etaSeconds} s`);
};
await Promise.all(requests.map(submitOne));
// Two extensions of the first finished clip, once there is one.
await waitFor(() => firstClip !== undefined, 180_000);
await Promise.all(
  [0, 1].map((k) =>
    submitOne(
      {
        task: 'extend',
        prompt: 'a red circle moves right on a dark blue background',
        steps: 4,
        seed: 100 + k,
        clips: [{ clipId: firstClip as string }],
      },
      18 + k,
    ),
  ),
);

await waitFor(() => submitted.every((id) => deliveries.has(id)), 300_000);
const delivered = submitted.filter((id) => deliveries.get(id)?.some((d) => d.kind === 'succeeded')).length;
const duplicates = [...deliveries.values()].reduce((sum, list) => sum + list.length - 1, 0);
const lost = submitted.filter((id) => !deliveries.has(id)).length;
let charged = 0;
for (const id of submitted) if (((await service.store.job(id))?.chargedSeconds ?? 0) > 0) charged += 1;
say(`all settled in ${((performance.now() - started) / 1000).toFixed(1)} s; worker killed: ${killed}`);

await Promise.allSettled(
  workers.map(async (w) => {
    w.child.kill('SIGTERM');
    await w.exited;
  }),
);
await bot.close();
await redis.release();
process.stdout.write(
  `service: submitted ${submitted.length}, delivered ${delivered}, duplicates ${duplicates}, lost ${lost}, charged ${charged}\n`,
);
process.exit(delivered === submitted.length && duplicates === 0 && lost === 0 ? 0 : 1);

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms (delivered ${deliveries.size} of ${submitted.length})`);
    await new Promise<void>((resolve) => {
      onDelivered = resolve;
      setTimeout(resolve, 500);
    });
  }
}
