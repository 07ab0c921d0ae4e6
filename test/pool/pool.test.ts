import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type PoolProcess, startPool } from '../../scripts/worker-pool.ts';
import { DEVICE_LOST_EXIT_CODE } from '../../worker/device-errors.ts';
import { PACK_DIR } from '../helpers/pack.ts';
import { type Stack, startStack } from '../service/stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const t2v = { task: 't2v' as const, prompt: 'a red circle moves right on a dark blue background', frames: 17 };
let stack: Stack | undefined;
let pool: PoolProcess | undefined;
const others: PoolProcess[] = [];
const files: string[] = [];
afterEach(async () => {
  for (const p of [pool, ...others.splice(0)]) {
    if (p === undefined || p.child.exitCode !== null) continue;
    p.child.kill('SIGKILL'); // its workers follow: their IPC channel closes
    await p.exited;
  }
  pool = undefined;
  await stack?.stop();
  stack = undefined;
  for (const file of files.splice(0)) await rm(file, { force: true });
});

/** `npm run workers` on the stack's queue, as a test harness starts it. */
const poolEnv = (s: Stack, env: Record<string, string>) => ({
  REDIS_URL,
  QUEUE_PREFIX: s.prefix,
  MODEL_DIR: PACK_DIR,
  WORKER_HEALTH_PORT: '0',
  LOCK_DURATION_MS: '3000',
  STALLED_INTERVAL_MS: '1000',
  ORT_THREADS: '1',
  LOG_LEVEL: 'info',
  ...env,
});
const readyCount = (p: PoolProcess, workerId: string) =>
  p.lines().filter((l) => l['msg'] === 'worker ready' && l['workerId'] === workerId).length;
const until = async (condition: () => boolean, what: string, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('npm run workers (one worker per device, real Redis, real worker processes)', () => {
  it('starts one worker per device with distinct ids, restarts one that dies, and drains on SIGTERM', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    pool = await startPool(poolEnv(stack, { WORKER_GPUS: 'cpu:2', WORKER_ID: 'box', POOL_RESTART_DELAY_MS: '200' }));

    expect([...pool.workers].sort()).toEqual(['box-cpu0', 'box-cpu1']);
    const started = pool.lines().filter((l) => l['msg'] === 'worker starting');
    expect(started.map((l) => l['worker']).sort()).toEqual(['box-cpu0', 'box-cpu1']);
    expect(new Set(started.map((l) => l['pid'])).size).toBe(2);

    // A worker dies (SIGKILL): the pool notices and starts it again.
    const victim = started.find((l) => l['worker'] === 'box-cpu1')?.['pid'] as number;
    process.kill(victim, 'SIGKILL');
    await pool.waitForLine(
      (l) => l['msg'] === 'worker exited unexpectedly' && l['worker'] === 'box-cpu1' && l['signal'] === 'SIGKILL',
      'the crash',
    );
    await pool.waitForLine((l) => l['msg'] === 'restarting worker' && l['worker'] === 'box-cpu1', 'the restart');
    await until(() => readyCount(pool!, 'box-cpu1') === 2, 'box-cpu1 ready again');

    // SIGTERM while a job runs, to the pool and to every worker at once (systemd's default KillMode signals the whole
    // control group; the pool forwards it too): the job finishes and is delivered, every worker exits 0, so does the pool.
    const answer = await stack.submit({ ...t2v, steps: 10 });
    if (!answer.ok) throw answer.error;
    await stack.waitFor(() => stack!.updates.some((u) => u.kind === 'progress'), 'the first progress');
    const live = new Map(
      pool
        .lines()
        .filter((l) => l['msg'] === 'worker starting')
        .map((l) => [l['worker'], l['pid'] as number]),
    );
    pool.child.kill('SIGTERM');
    for (const pid of live.values()) process.kill(pid, 'SIGTERM');

    expect(await pool.exited).toBe(0);
    expect(pool.lines().find((l) => l['msg'] === 'pool stopped')).toMatchObject({ codes: [0, 0] });
    expect(pool.lines().filter((l) => l['msg'] === 'stopped' && l['code'] === 0)).toHaveLength(2);
    await stack.waitFor(() => stack!.deliveries.length === 1, 'the delivery of the drained job');
    expect(stack.deliveries[0]).toMatchObject({ kind: 'succeeded', jobId: answer.jobId });
  });

  it('fails a job back to the queue when a worker loses its GPU: another worker delivers it once, the pool restarts the first', async () => {
    stack = await startStack({ redisUrl: REDIS_URL });
    const marker = join(tmpdir(), `pusa-device-lost-${randomUUID()}`);
    files.push(marker);
    pool = await startPool(
      poolEnv(stack, {
        WORKER_GPUS: 'cpu:2',
        WORKER_ID: 'box',
        NODE_ENV: 'test',
        PUSA_TEST_FAIL_DEVICE_AFTER_STEPS: '1',
        PUSA_TEST_FAIL_DEVICE_MARKER: marker,
        // Longer than the job's first retry delay (2 s): the retry goes to the other, idle worker.
        POOL_RESTART_DELAY_MS: '3000',
      }),
    );

    // Three jobs for two workers: one waits while the other two run, so a worker that kept taking jobs after its
    // device failed would take it (and it would come back only after its lock expired, as a stalled job).
    const answers = await Promise.all(
      ['ada', 'grace', 'linus'].map((user, seed) => stack!.submit({ ...t2v, steps: 6, seed }, { user })),
    );
    const ids = answers.map((a) => (a.ok ? a.jobId : ''));
    await stack.waitFor(() => stack!.deliveries.length === 3, 'three deliveries');
    const lost = await readFile(marker, 'utf8');
    await pool.waitForLine((l) => l['msg'] === 'restarting worker' && l['worker'] === lost, 'the restart');
    await until(() => readyCount(pool!, lost) === 2, `${lost} ready again`);
    await new Promise((r) => setTimeout(r, 1500)); // room for a duplicate to show

    // Each delivered once, succeeded, charged once; nothing stalled.
    expect(stack.deliveries.map((d) => [d.kind, d.jobId]).sort()).toEqual(ids.map((id) => ['succeeded', id]).sort());
    expect(stack.updates.filter((u) => u.kind === 'requeued')).toEqual([]);
    for (const id of ids) expect((await stack.service.store.job(id))?.status).toBe('succeeded');
    // The job on the failing worker went back to the queue and the other worker finished it: two attempts.
    const progress = stack.updates.flatMap((u) => (u.kind === 'progress' ? [u] : []));
    const failedOn = progress.filter((u) => u.workerId === lost && u.jobId !== undefined);
    expect(failedOn.map((u) => u.step)).toEqual([1]);
    const retried = failedOn[0]?.jobId as string;
    const last = progress.filter((u) => u.jobId === retried).at(-1);
    expect(last).toMatchObject({ step: 6, total: 6 });
    expect(last?.workerId).toMatch(/^box-cpu[01]$/);
    expect(last?.workerId).not.toBe(lost);
    const attempts = await Promise.all(
      ids.map(async (id) => [id === retried, (await stack!.service.generate.getJob(id))?.attemptsMade]),
    );
    expect(attempts.sort()).toEqual([
      [false, 1],
      [false, 1],
      [true, 2],
    ]);
    expect(await (await stack.service.generate.getJob(retried))?.getState()).toBe('completed');
    // The worker said why, exited with the device-lost code, and the pool restarted it.
    expect(pool.lines().some((l) => l['msg'] === 'generate failed: the device failed' && l['workerId'] === lost)).toBe(
      true,
    );
    expect(pool.lines().find((l) => l['msg'] === 'stopped' && l['workerId'] === lost)).toMatchObject({
      code: DEVICE_LOST_EXIT_CODE,
    });
    expect(
      pool.lines().find((l) => l['msg'] === 'worker lost its device; its job went back to the queue'),
    ).toMatchObject({ worker: lost, code: DEVICE_LOST_EXIT_CODE });
    expect(pool.lines().filter((l) => l['msg'] === 'worker starting' && l['worker'] === lost)).toHaveLength(2);
  });

  it('gives up on a worker that keeps crashing, and exits 1 when none is left', async () => {
    pool = await startPool(
      {
        WORKER_GPUS: 'cpu:1',
        WORKER_ID: 'box',
        MODEL_DIR: join(tmpdir(), `no-such-pack-${randomUUID()}`),
        WORKER_HEALTH_PORT: '0',
        POOL_MAX_RESTARTS: '1',
        POOL_RESTART_DELAY_MS: '100',
        LOG_LEVEL: 'info',
      },
      { waitReady: false },
    );

    expect(await pool.exited).toBe(1);
    expect(pool.lines().filter((l) => l['msg'] === 'worker starting')).toHaveLength(2);
    expect(pool.output()).toMatch(/giving up on box-cpu0: 2 crashes within 600 s/);
    expect(pool.output()).toMatch(/no worker left: exiting/);
  });

  it('refuses WORKER_GPUS=all without nvidia-smi, and a bad worker setting, before starting any worker', async () => {
    const noSmi = await startPool({ WORKER_GPUS: 'all', PATH: '/nonexistent' }, { waitReady: false });
    const badSetting = await startPool(
      { WORKER_GPUS: 'cpu:2', REDIS_URL: 'not a url', PREVIEW_EVERY: 'often' },
      { waitReady: false },
    );
    others.push(noSmi, badSetting);

    expect(await noSmi.exited).toBe(1);
    expect(noSmi.output()).toMatch(/WORKER_GPUS=all needs nvidia-smi .* name the GPUs instead \(WORKER_GPUS=0,1\)/);
    expect(await badSetting.exited).toBe(1);
    expect(badSetting.output()).toMatch(/invalid worker configuration:\n {2}REDIS_URL: .*\n {2}PREVIEW_EVERY: /);
    expect(noSmi.output() + badSetting.output()).not.toMatch(/worker starting/);
  });
});
