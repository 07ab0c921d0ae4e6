import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { createHub } from '../bot/core/hub.ts';
import { localServiceConfig, startService } from '../bot/service.ts';
import { startPlayground } from '../bot/web/server.ts';
import { redisForDemo } from '../scripts/local-redis.ts';
import { startWorker } from '../scripts/worker-pool.ts';

/**
 * `npm run playground`: the whole stack on one machine — Redis (the one at REDIS_URL, else a private redis-server),
 * SQLite, a worker with pusa-mini and the web playground — and prints its URL. `--once` runs a scripted session
 * through the playground's own HTTP API (every task, an extension, a cancel and an operator action) and exits.
 */
const { values } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    port: { type: 'string', default: '8787' },
    host: { type: 'string', default: process.env['PLAYGROUND_HOST'] ?? '127.0.0.1' },
  },
});
const dataDir = values.once ? 'out/playground-session' : 'data';
if (values.once) await rm('out', { recursive: true, force: true });

const redis = await redisForDemo(process.env);
const redisUrl = redis.url;
const prefix = values.once ? `playground-${process.pid}` : 'pusa';
const hub = createHub();
const service = await startService(localServiceConfig({ redisUrl, prefix, dir: dataDir }), {
  deliver: (d) => hub.deliver(d),
  onUpdate: (u) => hub.update(u),
});
const adminToken = process.env['PLAYGROUND_ADMIN_TOKEN'];
const playground = await startPlayground(service, hub, {
  host: values.host,
  port: values.once ? 0 : Number(values.port),
  ...(adminToken === undefined ? {} : { adminToken }),
});
const worker = await startWorker(`playground-worker-${process.pid}`, {
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: prefix,
  MODEL_DIR: 'models/pusa-mini',
  LOG_LEVEL: 'warn',
});

const stop = async () => {
  worker.child.kill('SIGTERM');
  await worker.exited;
  await playground.close();
  await service.close();
  await redis.release();
};
process.once('SIGINT', () => void stop().then(() => process.exit(0)));
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));

if (!values.once) {
  process.stdout.write(
    `playground at ${playground.url} (operator dashboard at ${playground.url}/admin); Ctrl-C stops it\n`,
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
    data: (await readFile(`samples/${name}`)).toString('base64'),
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
  await mkdir('out', { recursive: true });
  for (const [i, job] of finished.entries())
    if (job.clip !== null) await copyFile(service.artifacts.absolute(job.clip.mp4Path), `out/${i + 1}-${job.task}.mp4`);
  process.stdout.write(
    `demo: ${completed}/${total} requests completed, clips in ./out, playground at ${playground.url}\n`,
  );
  await stop();
  process.exit(completed === total ? 0 : 1);
}
