import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartSeries, percentile, TOP } from '../../bot/core/charts.ts';
import { createOperator } from '../../bot/core/operator.ts';
import { createPrismaStore, migrateToLatest, type Store } from '../../prisma/store.ts';
import { createTestDatabase, PROVIDERS, type TestDatabase } from '../prisma/databases.ts';
import { at, clipOf, reserveInput } from '../prisma/fixtures.ts';

const NOW = at('2031-05-06T13:00:00Z');
const hhmmss = (time: string) => at(`2031-05-06T${time}Z`);
/** 60 one-minute buckets from 12:00: `values` at the given minutes, `fill` elsewhere. */
const minutes = <TValue>(fill: TValue, values: Record<number, TValue>) =>
  Array.from({ length: 60 }, (_, i) => (i in values ? (values[i] as TValue) : fill));

describe.each(PROVIDERS)("the dashboard's charts from the store on %s", (provider) => {
  let database: TestDatabase;
  let store: Store;
  // The charts read only the store; the queue is never touched.
  const operator = () => createOperator({ store, generate: {} as Queue, clipSeconds: async () => 0, now: () => NOW });

  beforeAll(async () => {
    database = await createTestDatabase(provider);
    await migrateToLatest(database.url);
    store = createPrismaStore(database.url);
    const alpha = await store.ensureWorkspace({ platform: 'discord', externalId: 'g-alpha', name: 'Alpha' });
    const beta = await store.ensureWorkspace({ platform: 'slack', externalId: 't-beta', name: 'Beta' });
    for (const w of [alpha, beta]) await store.setWorkspaceLimits(w.id, { userMaxQueuedJobs: 10 });
    const ann = {
      workspace: alpha,
      user: await store.ensureUser({ platform: 'discord', externalId: 'a', displayName: 'ann' }),
    };
    const bob = {
      workspace: beta,
      user: await store.ensureUser({ platform: 'slack', externalId: 'b', displayName: 'bob' }),
    };
    const queue = async (who: typeof ann, time: string) => {
      const reserved = await store.reserve(reserveInput(who, { now: hhmmss(time) }));
      if (!reserved.ok) throw new Error(reserved.message);
      return reserved.job.id;
    };
    const run = (id: string, workerId: string, time: string) => store.markRunning(id, { workerId, now: hhmmss(time) });
    const succeed = (id: string, seconds: number, time: string) =>
      store.complete(id, { chargedSeconds: seconds, clip: clipOf(), now: hhmmss(time) });

    // Before the window: nothing of it may show.
    const old = await queue(ann, '11:00:00');
    await run(old, 'gpu-0', '11:01:00');
    await succeed(old, 50, '11:02:00');
    // Four queued at 12:10, taken in the 12:11 minute after 60, 62, 64 and 70 s.
    const [j1, j2, j3, j4] = [
      await queue(ann, '12:10:00'),
      await queue(ann, '12:10:00'),
      await queue(bob, '12:10:00'),
      await queue(bob, '12:10:00'),
    ];
    const j5 = await queue(bob, '12:10:30');
    await run(j1 as string, 'gpu-1', '12:11:00');
    await run(j2 as string, 'gpu-2', '12:11:02');
    await run(j3 as string, 'gpu-3', '12:11:04');
    await run(j4 as string, 'gpu-4', '12:11:10');
    await store.fail(j2 as string, { code: 'WorkerError', message: 'boom', now: hhmmss('12:11:32') });
    await succeed(j1 as string, 60, '12:12:00');
    await succeed(j3 as string, 100, '12:13:04');
    await store.cancel(j5, hhmmss('12:20:00'));
    // Charged, then refunded (its clip never reached ann): the refund is dated at the charge, so that minute nets to
    // nothing, and the job ends as failed at the refund.
    const refunded = await queue(ann, '12:40:00');
    await run(refunded, 'gpu-r', '12:40:00');
    await succeed(refunded, 30, '12:41:00');
    await store.refund(refunded, { code: 'DeliveryFailed', message: 'never posted', now: hhmmss('12:45:00') });
    await queue(ann, '12:59:30');
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('gives depth, wait p50/p95, throughput, GPU seconds and busy shares per minute of the last hour', async () => {
    const done = await operator().charts({ admin: true }, '1h');
    if (!done.ok) throw done.error;
    const c = done.charts;

    expect(c.step).toBe(60);
    expect(c.t).toHaveLength(60);
    expect(c.t[0]).toBe(hhmmss('12:00:00').getTime() / 1000);
    expect(c.depth).toEqual(minutes(0, { 9: 4, 10: 4, 11: 1, 12: 1, 13: 1, 14: 1, 15: 1, 16: 1, 17: 1, 18: 1, 59: 1 }));
    expect(c.wait).toEqual({ p50: minutes(null, { 11: 62, 40: 0 }), p95: minutes(null, { 11: 70, 40: 0 }) });
    expect(c.throughput).toEqual({
      succeeded: minutes(0, { 12: 1, 13: 1 }),
      failed: minutes(0, { 11: 1, 45: 1 }),
      cancelled: minutes(0, { 20: 1 }),
    });
    expect(c.gpuByUser.map(({ label, values }) => ({ label, values }))).toEqual([
      { label: 'bob', values: minutes(0, { 13: 100 }) },
      { label: 'ann', values: minutes(0, { 12: 60 }) },
    ]);
    expect(c.gpuByWorkspace.map(({ label, values }) => ({ label, values }))).toEqual([
      { label: 'Beta', values: minutes(0, { 13: 100 }) },
      { label: 'Alpha', values: minutes(0, { 12: 60 }) },
    ]);
    const stillRunning = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [12 + i, 1]));
    // The refund moved gpu-r's job's end to 12:45 (the store keeps one finishedAt), so its busy share is left out here.
    expect(c.busy.filter((b) => b.label !== 'gpu-r').map(({ label, values }) => ({ label, values }))).toEqual([
      { label: 'gpu-1', values: minutes(0, { 11: 1 }) },
      { label: 'gpu-2', values: minutes(0, { 11: 0.5 }) },
      { label: 'gpu-3', values: minutes(0, { 11: 56 / 60, 12: 1, 13: 4 / 60 }) },
      { label: 'gpu-4', values: minutes(0, { ...stillRunning, 11: 50 / 60 }) },
    ]);
    expect(c.truncated).toBe(false);
  });

  it('buckets the last day by 15 minutes, the old job included', async () => {
    const done = await operator().charts({ admin: true }, '24h');
    if (!done.ok) throw done.error;
    const c = done.charts;
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

    expect([c.step, c.t.length]).toEqual([900, 96]);
    // 11:00–11:15 is bucket 88 of the day ending 13:00; 12:00–12:15 is bucket 92.
    expect(c.throughput.succeeded[88]).toBe(1);
    expect(c.throughput.succeeded[92]).toBe(2);
    expect(sum(c.gpuByUser.find((s) => s.label === 'ann')?.values ?? [])).toBe(110);
    expect(c.wait.p95[92]).toBe(70);
    expect(c.depth.at(-1)).toBe(1);
  });

  it('refuses anyone but the deployment operators, as the overview does', async () => {
    const alpha = (await store.listWorkspaces()).find((w) => w.name === 'Alpha');
    const member = await operator().charts({ admin: false }, '1h');
    const workspaceOperator = await operator().charts({ admin: true, workspaceId: alpha?.id as string }, '1h');

    expect(member).toMatchObject({ ok: false, error: { code: 'NotAllowed' } });
    expect(workspaceOperator).toMatchObject({ ok: false, error: { code: 'NotAllowed' } });
  });
});

describe('chart arithmetic', () => {
  it('takes nearest-rank percentiles', () => {
    expect([
      percentile([], 0.5),
      percentile([3], 0.95),
      percentile([1, 2, 3, 4], 0.5),
      percentile([1, 2, 3, 4], 0.95),
    ]).toEqual([null, 3, 2, 4]);
  });

  it(`names the ${TOP} largest users and sums the rest as others, refunds taken off`, () => {
    const until = at('2031-05-06T13:00:00Z');
    const charge = (user: string, seconds: number, time: string) => ({
      userId: user,
      userName: user,
      workspaceId: 'w',
      workspaceName: 'W',
      seconds,
      at: hhmmss(time),
    });
    const charges = [
      charge('u1', 50, '12:00:10'),
      charge('u2', 40, '12:00:20'),
      charge('u3', 30, '12:01:00'),
      charge('u4', 20, '12:01:00'),
      charge('u5', 10, '12:02:00'),
      charge('u6', 5, '12:02:30'),
      charge('u1', -50, '12:03:00'),
    ];
    const c = chartSeries({ jobs: [], charges, truncated: false }, '1h', until);

    expect(c.gpuByUser.map((s) => [s.label, s.values.slice(0, 4)])).toEqual([
      ['u2', [40, 0, 0, 0]],
      ['u3', [0, 30, 0, 0]],
      ['u4', [0, 20, 0, 0]],
      ['u5', [0, 0, 10, 0]],
      ['2 others', [50, 0, 5, -50]],
    ]);
    expect(c.gpuByWorkspace.map((s) => [s.label, s.values.slice(0, 4)])).toEqual([['W', [90, 50, 15, -50]]]);
  });
});
