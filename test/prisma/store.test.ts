import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaStore, migrateToLatest, type ReserveResult, type Store } from '../../prisma/store.ts';
import { createTestDatabase, PROVIDERS, type TestDatabase } from './databases.ts';
import { at, clipOf, newTenant, reserveInput } from './fixtures.ts';

function okJob(result: ReserveResult) {
  if (!result.ok) throw new Error(`expected ok, got ${result.reason}: ${result.message}`);
  return result.job;
}

describe.each(PROVIDERS)('prisma store on %s', (provider) => {
  let database: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    database = await createTestDatabase(provider);
    await migrateToLatest(database.url);
    store = createPrismaStore(database.url);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  describe('users and workspaces', () => {
    it('ensures one row per platform and external id, updating the display name', async () => {
      const first = await store.ensureUser({ platform: 'slack', externalId: 'U-same', displayName: 'Ann' });
      const again = await store.ensureUser({ platform: 'slack', externalId: 'U-same', displayName: 'Ann B.' });
      const other = await store.ensureUser({ platform: 'discord', externalId: 'U-same', displayName: 'Ann' });

      expect(again.id).toBe(first.id);
      expect(again.displayName).toBe('Ann B.');
      expect(other.id).not.toBe(first.id);
    });

    it('creates a user once when ten first requests arrive at once', async () => {
      const users = await Promise.all(
        Array.from({ length: 10 }, () =>
          store.ensureUser({ platform: 'discord', externalId: 'U-burst', displayName: 'Burst' }),
        ),
      );

      expect(new Set(users.map((user) => user.id)).size).toBe(1);
    });

    it('ensures workspaces with the default quota policy', async () => {
      const workspace = await store.ensureWorkspace({ platform: 'local', externalId: 'playground', name: 'Local' });
      const renamed = await store.ensureWorkspace({ platform: 'local', externalId: 'playground', name: 'Local 2' });

      expect(renamed.id).toBe(workspace.id);
      expect(renamed.name).toBe('Local 2');
      expect(workspace).toMatchObject({ dailyBudgetSeconds: null, userDailyGpuSeconds: 600, userMaxQueuedJobs: 3 });
    });
  });

  describe('workspaces and users for the dashboard', () => {
    it('lists workspaces of every platform, reads one by id, and finds users without creating them', async () => {
      const slack = await newTenant(store, 'slack');
      const local = await newTenant(store, 'local');

      const all = await store.listWorkspaces();

      expect(all.map((w) => w.id)).toEqual(expect.arrayContaining([slack.workspace.id, local.workspace.id]));
      expect(all.findIndex((w) => w.id === slack.workspace.id)).toBeGreaterThan(
        all.findIndex((w) => w.id === local.workspace.id),
      );
      expect(await store.workspace(slack.workspace.id)).toMatchObject({ platform: 'slack', userDailyGpuSeconds: 600 });
      expect(await store.workspace('missing')).toBeNull();
      expect(await store.findUser('slack', slack.user.externalId)).toMatchObject({ id: slack.user.id });
      expect(await store.findUser('slack', 'nobody-here')).toBeNull();
      expect(await store.findUser('discord', slack.user.externalId)).toBeNull();
    });
  });

  describe('reserve', () => {
    it('records a queued job with its parameters, origin, reservation and first event', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');

      const job = okJob(await store.reserve(reserveInput(tenant, { now, task: 'start-end', estimatedSeconds: 12.2 })));

      expect(job).toMatchObject({
        status: 'queued',
        task: 'start-end',
        estimatedSeconds: 13,
        reservedSeconds: 13,
        chargedSeconds: 0,
        attempts: 0,
        parameters: { prompt: 'a hummingbird at red flowers', frames: 21, seed: 7 },
        origin: { channelId: 'c1', messageId: 'm1' },
        createdAt: now,
        clip: null,
      });
      expect(await store.jobEvents(job.id)).toEqual([{ status: 'queued', at: now, detail: null }]);
      expect(await store.quota(tenant.user.id, tenant.workspace.id, now)).toMatchObject({
        usedSeconds: 0,
        reservedSeconds: 13,
        limitSeconds: 600,
        remainingSeconds: 587,
        queued: 1,
        maxQueued: 3,
        resetsAt: at('2031-05-07T00:00:00Z'),
      });
    });

    it('accepts exactly 5 of 50 simultaneous submits when the budget has room for 5', async () => {
      const tenant = await newTenant(store);
      await store.setUserLimits(tenant.user.id, { dailyGpuSeconds: 50, maxQueuedJobs: 100 });
      const now = at('2031-05-06T12:00:00Z');

      const results = await Promise.all(
        Array.from({ length: 50 }, () => store.reserve(reserveInput(tenant, { now, estimatedSeconds: 10 }))),
      );

      expect(results.filter((result) => result.ok)).toHaveLength(5);
      expect(results.filter((result) => !result.ok && result.reason === 'user-daily')).toHaveLength(45);
      const quota = await store.quota(tenant.user.id, tenant.workspace.id, now);
      expect(quota).toMatchObject({ reservedSeconds: 50, remainingSeconds: 0, queued: 5 });
      expect(await store.history(tenant.user.id, { limit: 100 })).toHaveLength(5);
    });

    it('returns the existing job for a request key seen before, reserving nothing more', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const input = reserveInput(tenant, { now });

      const first = await store.reserve(input);
      const second = await store.reserve({ ...input, now: at('2031-05-06T12:00:05Z') });

      expect(first).toMatchObject({ ok: true, created: true });
      expect(second).toMatchObject({ ok: true, created: false });
      expect(okJob(second).id).toBe(okJob(first).id);
      expect((await store.quota(tenant.user.id, tenant.workspace.id, now)).reservedSeconds).toBe(10);
      expect((await store.jobByRequestKey(input.requestKey))?.id).toBe(okJob(first).id);
    });

    it('makes one job of the same request delivered ten times at once', async () => {
      const tenant = await newTenant(store);
      const input = reserveInput(tenant, { now: at('2031-05-06T12:00:00Z') });

      const results = await Promise.all(Array.from({ length: 10 }, () => store.reserve(input)));

      const ids = new Set(results.map((result) => okJob(result).id));
      expect(ids.size).toBe(1);
      expect(results.filter((result) => result.ok && result.created)).toHaveLength(1);
    });

    it('refuses past the queued-job cap, and takes jobs again once one finishes', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const jobs = [];
      for (let i = 0; i < 3; i += 1) jobs.push(okJob(await store.reserve(reserveInput(tenant, { now }))));

      const refused = await store.reserve(reserveInput(tenant, { now }));
      await store.cancel(jobs[0]!.id, now);
      const accepted = await store.reserve(reserveInput(tenant, { now }));

      expect(refused).toMatchObject({ ok: false, reason: 'queued-cap' });
      expect(refused.ok ? '' : refused.message).toContain('the limit is 3');
      expect(accepted.ok).toBe(true);
    });

    it('lets a per-user override beat the workspace default', async () => {
      const tenant = await newTenant(store);
      const plain = await store.ensureUser({
        platform: 'discord',
        externalId: `plain-${tenant.user.id}`,
        displayName: 'P',
      });
      await store.setWorkspaceLimits(tenant.workspace.id, { userDailyGpuSeconds: 20, userMaxQueuedJobs: 10 });
      await store.setUserLimits(tenant.user.id, { dailyGpuSeconds: 40 });
      const now = at('2031-05-06T12:00:00Z');

      const vip = await store.reserve(reserveInput(tenant, { now, estimatedSeconds: 40 }));
      const other = await store.reserve(reserveInput({ ...tenant, user: plain }, { now, estimatedSeconds: 40 }));
      const otherSmall = await store.reserve(reserveInput({ ...tenant, user: plain }, { now, estimatedSeconds: 20 }));

      expect(vip.ok).toBe(true);
      expect(other).toMatchObject({ ok: false, reason: 'user-daily', resetsAt: at('2031-05-07T00:00:00Z') });
      expect(otherSmall.ok).toBe(true);
      expect((await store.quota(tenant.user.id, tenant.workspace.id, now)).limitSeconds).toBe(40);

      await store.setUserLimits(tenant.user.id, { dailyGpuSeconds: null });
      expect((await store.quota(tenant.user.id, tenant.workspace.id, now)).limitSeconds).toBe(20);
    });

    it('refuses beyond the workspace daily budget, across users', async () => {
      const tenant = await newTenant(store);
      const second = await store.ensureUser({
        platform: 'discord',
        externalId: `two-${tenant.user.id}`,
        displayName: 'Two',
      });
      await store.setWorkspaceLimits(tenant.workspace.id, { dailyBudgetSeconds: 30 });
      const now = at('2031-05-06T22:30:00Z');

      const first = await store.reserve(reserveInput(tenant, { now, estimatedSeconds: 20 }));
      const refused = await store.reserve(reserveInput({ ...tenant, user: second }, { now, estimatedSeconds: 20 }));

      expect(first.ok).toBe(true);
      expect(refused).toMatchObject({ ok: false, reason: 'workspace-daily', resetsAt: at('2031-05-07T00:00:00Z') });
      expect(refused.ok ? '' : refused.message).toMatch(
        /only 10 s of this workspace's daily 30 s budget.*in 1 h 30 min/,
      );
      expect((await store.quota(second.id, tenant.workspace.id, now)).workspace).toEqual({
        usedSeconds: 0,
        reservedSeconds: 20,
        budgetSeconds: 30,
        remainingSeconds: 10,
      });
    });

    it('refuses a banned user with the reason, and accepts again after unban', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      await store.ban(tenant.user.id, 'spamming the queue');

      const refused = await store.reserve(reserveInput(tenant, { now }));
      await store.unban(tenant.user.id);
      const accepted = await store.reserve(reserveInput(tenant, { now }));

      expect(refused).toMatchObject({ ok: false, reason: 'banned' });
      expect(refused.ok ? '' : refused.message).toContain('spamming the queue');
      expect(accepted.ok).toBe(true);
    });

    it('resets the daily quota at UTC midnight', async () => {
      const tenant = await newTenant(store);
      await store.setUserLimits(tenant.user.id, { dailyGpuSeconds: 30 });
      const evening = at('2031-05-06T23:00:00Z');
      const job = okJob(await store.reserve(reserveInput(tenant, { now: evening, estimatedSeconds: 30 })));
      await store.complete(job.id, { chargedSeconds: 30, clip: clipOf(), now: at('2031-05-06T23:30:00Z') });

      const late = await store.reserve(reserveInput(tenant, { now: at('2031-05-06T23:59:59Z'), estimatedSeconds: 1 }));
      const midnight = await store.reserve(
        reserveInput(tenant, { now: at('2031-05-07T00:00:00Z'), estimatedSeconds: 30 }),
      );

      expect(late).toMatchObject({ ok: false, reason: 'user-daily', resetsAt: at('2031-05-07T00:00:00Z') });
      expect(late.ok ? '' : late.message).toContain('in under a minute');
      expect(midnight.ok).toBe(true);
      expect(await store.quota(tenant.user.id, tenant.workspace.id, at('2031-05-07T00:00:00Z'))).toMatchObject({
        usedSeconds: 0,
        reservedSeconds: 30,
        resetsAt: at('2031-05-08T00:00:00Z'),
      });
    });

    it('counts a reservation made yesterday against today until its job finishes', async () => {
      const tenant = await newTenant(store);
      await store.setUserLimits(tenant.user.id, { dailyGpuSeconds: 30 });
      const job = okJob(
        await store.reserve(reserveInput(tenant, { now: at('2031-05-06T23:59:00Z'), estimatedSeconds: 30 })),
      );

      const today = at('2031-05-07T00:01:00Z');
      const refused = await store.reserve(reserveInput(tenant, { now: today, estimatedSeconds: 1 }));
      await store.complete(job.id, { chargedSeconds: 25, clip: clipOf(), now: at('2031-05-07T00:02:00Z') });

      expect(refused).toMatchObject({ ok: false, reason: 'user-daily' });
      expect(await store.quota(tenant.user.id, tenant.workspace.id, today)).toMatchObject({
        usedSeconds: 25,
        reservedSeconds: 0,
        remainingSeconds: 5,
      });
    });
  });

  describe('blocklist', () => {
    it('refuses a prompt with a blocked word, case-insensitively and only as a whole word', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const added = await store.addBlockRule(tenant.workspace.id, {
        pattern: 'Gore',
        kind: 'word',
        createdBy: 'admin-1',
      });
      if (!added.ok) throw new Error(added.message);

      const blocked = await store.reserve(reserveInput(tenant, { now, parameters: { prompt: 'so much GORE here' } }));
      const inWord = await store.reserve(
        reserveInput(tenant, { now, parameters: { prompt: 'Al Gore-tex? no: gorely' } }),
      );
      const clean = await store.reserve(reserveInput(tenant, { now, parameters: { prompt: 'a gorge at dawn' } }));

      expect(blocked).toMatchObject({
        ok: false,
        reason: 'blocked-prompt',
        rule: { id: added.rule.id, pattern: 'Gore' },
      });
      expect(blocked.ok ? '' : blocked.message).toContain('the blocked word "Gore"');
      expect(inWord).toMatchObject({ ok: false, reason: 'blocked-prompt' });
      expect(clean.ok).toBe(true);
    });

    it('refuses a prompt matching a regex rule, and only in its own workspace', async () => {
      const tenant = await newTenant(store);
      const elsewhere = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const added = await store.addBlockRule(tenant.workspace.id, {
        pattern: String.raw`celeb(rity)?\s+deepfake`,
        kind: 'regex',
        createdBy: 'admin-1',
      });
      if (!added.ok) throw new Error(added.message);
      const prompt = { prompt: 'A Celebrity   DeepFake of someone' };

      const blocked = await store.reserve(reserveInput(tenant, { now, parameters: prompt }));
      const otherWorkspace = await store.reserve(reserveInput(elsewhere, { now, parameters: prompt }));
      const explicitPrompt = await store.reserve(
        reserveInput(tenant, { now, parameters: { frames: 21 }, prompt: 'celeb deepfake' }),
      );

      expect(blocked).toMatchObject({ ok: false, reason: 'blocked-prompt', rule: { kind: 'regex' } });
      expect(blocked.ok ? '' : blocked.message).toContain('/celeb(rity)?\\s+deepfake/');
      expect(otherWorkspace.ok).toBe(true);
      expect(explicitPrompt).toMatchObject({ ok: false, reason: 'blocked-prompt' });
    });

    it('lists, removes and validates rules', async () => {
      const { workspace } = await newTenant(store);
      const first = await store.addBlockRule(workspace.id, { pattern: 'alpha', kind: 'word', createdBy: 'a' });
      const second = await store.addBlockRule(workspace.id, { pattern: 'be+ta', kind: 'regex', createdBy: 'b' });
      const invalid = await store.addBlockRule(workspace.id, { pattern: '(unclosed', kind: 'regex', createdBy: 'c' });
      const everything = await store.addBlockRule(workspace.id, { pattern: '.*', kind: 'regex', createdBy: 'c' });
      if (!first.ok || !second.ok) throw new Error('rules refused');

      const removed = await store.removeBlockRule(workspace.id, first.rule.id);
      const removedAgain = await store.removeBlockRule(workspace.id, first.rule.id);

      expect(invalid).toMatchObject({ ok: false, reason: 'invalid-pattern' });
      expect(everything).toMatchObject({ ok: false, reason: 'invalid-pattern' });
      expect(removed).toBe(true);
      expect(removedAgain).toBe(false);
      expect((await store.listBlockRules(workspace.id)).map((rule) => rule.pattern)).toEqual(['be+ta']);
    });
  });

  describe('job lifecycle and charging', () => {
    it('charges the GPU seconds used on success and releases the rest of the reservation', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const job = okJob(await store.reserve(reserveInput(tenant, { now, estimatedSeconds: 40 })));

      expect(await store.markRunning(job.id, { workerId: 'gpu-1', now: at('2031-05-06T12:00:01Z') })).toBe(true);
      const result = await store.complete(job.id, {
        chargedSeconds: 31.2,
        clip: clipOf(),
        now: at('2031-05-06T12:01:00Z'),
      });

      expect(result.outcome).toBe('applied');
      expect(result.job).toMatchObject({ status: 'succeeded', chargedSeconds: 32, attempts: 1, workerId: 'gpu-1' });
      expect(result.job?.clip).not.toBeNull();
      expect(await store.quota(tenant.user.id, tenant.workspace.id, now)).toMatchObject({
        usedSeconds: 32,
        reservedSeconds: 0,
        remainingSeconds: 568,
        queued: 0,
      });
      expect((await store.jobEvents(job.id)).map((event) => event.status)).toEqual(['queued', 'running', 'succeeded']);
    });

    it('charges once when a job is completed twice, or by five callers at once', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const job = okJob(await store.reserve(reserveInput(tenant, { now })));
      const other = okJob(await store.reserve(reserveInput(tenant, { now })));

      const first = await store.complete(job.id, { chargedSeconds: 8, clip: clipOf(), now });
      const second = await store.complete(job.id, { chargedSeconds: 8, clip: clipOf(), now });
      const racing = await Promise.all(
        Array.from({ length: 5 }, () => store.complete(other.id, { chargedSeconds: 9, clip: clipOf(), now })),
      );

      expect(first.outcome).toBe('applied');
      expect(second.outcome).toBe('duplicate');
      expect(second.job?.clip?.id).toBe(first.job?.clip?.id);
      expect(racing.filter((result) => result.outcome === 'applied')).toHaveLength(1);
      expect(racing.filter((result) => result.outcome === 'duplicate')).toHaveLength(4);
      expect(await store.quota(tenant.user.id, tenant.workspace.id, now)).toMatchObject({
        usedSeconds: 17,
        reservedSeconds: 0,
      });
      expect(await store.usageByUser(tenant.workspace.id, at('2031-05-06T00:00:00Z'))).toEqual([
        expect.objectContaining({ userId: tenant.user.id, chargedSeconds: 17, jobs: 2 }),
      ]);
    });

    it('refunds a completed job whose clip never reached its owner, once, on the day it was charged', async () => {
      const tenant = await newTenant(store);
      const charged = at('2031-05-06T23:59:00Z');
      const later = at('2031-05-07T10:00:00Z');
      const job = okJob(await store.reserve(reserveInput(tenant, { now: charged })));
      const kept = okJob(await store.reserve(reserveInput(tenant, { now: charged })));
      await store.complete(job.id, { chargedSeconds: 8, clip: clipOf(), now: charged });
      await store.complete(kept.id, { chargedSeconds: 5, clip: clipOf(), now: charged });

      const refunds = await Promise.all(
        [1, 2, 3].map(() => store.refund(job.id, { code: 'DeliveryFailed', message: 'never posted', now: later })),
      );
      const again = await store.refund(job.id, { code: 'DeliveryFailed', message: 'never posted', now: later });
      const queued = okJob(await store.reserve(reserveInput(tenant, { now: later })));
      const notCharged = await store.refund(queued.id, { code: 'DeliveryFailed', message: 'x', now: later });

      expect(refunds.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(again.outcome).toBe('duplicate');
      expect(again.job).toMatchObject({
        status: 'failed',
        chargedSeconds: 0,
        clip: null,
        error: { code: 'DeliveryFailed' },
      });
      expect(notCharged.outcome).toBe('already-finished');
      expect(await store.quota(tenant.user.id, tenant.workspace.id, charged)).toMatchObject({ usedSeconds: 5 });
      expect(await store.quota(tenant.user.id, tenant.workspace.id, later)).toMatchObject({ usedSeconds: 0 });
      expect(await store.usageByUser(tenant.workspace.id, at('2031-05-06T00:00:00Z'))).toEqual([
        expect.objectContaining({ userId: tenant.user.id, chargedSeconds: 5, jobs: 1 }),
      ]);
    });

    it('releases the reservation of a failed job, which costs nothing, idempotently', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const job = okJob(await store.reserve(reserveInput(tenant, { now, estimatedSeconds: 25 })));
      await store.markRunning(job.id, { workerId: 'gpu-1', now });

      const failed = await store.fail(job.id, { code: 'OutOfMemory', message: 'CUDA out of memory', now });
      const again = await store.fail(job.id, { code: 'OutOfMemory', message: 'CUDA out of memory', now });
      const lateSuccess = await store.complete(job.id, { chargedSeconds: 25, clip: clipOf(), now });

      expect(failed.outcome).toBe('applied');
      expect(failed.job).toMatchObject({
        status: 'failed',
        chargedSeconds: 0,
        error: { code: 'OutOfMemory', message: 'CUDA out of memory' },
        finishedAt: now,
      });
      expect(again.outcome).toBe('duplicate');
      expect(lateSuccess.outcome).toBe('already-finished');
      expect(lateSuccess.job?.clip).toBeNull();
      expect(await store.quota(tenant.user.id, tenant.workspace.id, now)).toMatchObject({
        usedSeconds: 0,
        reservedSeconds: 0,
      });
    });

    it('releases the reservation of a cancelled job, idempotently', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const job = okJob(await store.reserve(reserveInput(tenant, { now, estimatedSeconds: 25 })));

      const cancelled = await store.cancel(job.id, now);
      const again = await store.cancel(job.id, now);

      expect(cancelled.outcome).toBe('applied');
      expect(cancelled.job?.status).toBe('cancelled');
      expect(again.outcome).toBe('duplicate');
      expect(await store.markRunning(job.id, { workerId: 'gpu-1', now })).toBe(false);
      expect(await store.cancel('no-such-job', now)).toEqual({ outcome: 'not-found', job: null });
      expect((await store.quota(tenant.user.id, tenant.workspace.id, now)).reservedSeconds).toBe(0);
    });

    it('requeues a job whose worker died, keeping its reservation, and counts the next attempt', async () => {
      const tenant = await newTenant(store);
      const now = at('2031-05-06T12:00:00Z');
      const job = okJob(await store.reserve(reserveInput(tenant, { now, estimatedSeconds: 15 })));
      await store.markRunning(job.id, { workerId: 'gpu-1', now });

      expect(await store.requeue(job.id, 'worker gpu-1 lost', now)).toBe(true);
      const requeued = await store.job(job.id);
      expect(requeued).toMatchObject({ status: 'queued', workerId: null, attempts: 1 });
      expect((await store.quota(tenant.user.id, tenant.workspace.id, now)).reservedSeconds).toBe(15);

      expect(await store.markRunning(job.id, { workerId: 'gpu-2', now })).toBe(true);
      await store.complete(job.id, { chargedSeconds: 14, clip: clipOf(), now });
      expect(await store.requeue(job.id, 'too late', now)).toBe(false);
      expect(await store.job(job.id)).toMatchObject({ status: 'succeeded', attempts: 2, chargedSeconds: 14 });
      expect(await store.jobEvents(job.id)).toEqual([
        { status: 'queued', at: now, detail: null },
        { status: 'running', at: now, detail: 'worker gpu-1, attempt 1' },
        { status: 'queued', at: now, detail: 'worker gpu-1 lost' },
        { status: 'running', at: now, detail: 'worker gpu-2, attempt 2' },
        { status: 'succeeded', at: now, detail: 'charged 14 s' },
      ]);
    });
  });

  describe('clips and history', () => {
    it('keeps the lineage of extended and transition clips', async () => {
      const tenant = await newTenant(store);
      await store.setUserLimits(tenant.user.id, { maxQueuedJobs: 10 });
      const run = async (task: 't2v' | 'extend' | 'transition', minute: number, parents: object = {}) => {
        const now = at(`2031-05-06T12:${String(minute).padStart(2, '0')}:00Z`);
        const job = okJob(await store.reserve(reserveInput(tenant, { now, task })));
        const done = await store.complete(job.id, { chargedSeconds: 5, clip: clipOf(parents), now });
        return done.job!.clip!;
      };

      const original = await run('t2v', 1);
      const extended = await run('extend', 2, { parentClipId: original.id });
      const bridge = await run('transition', 3, { parentClipId: original.id, secondParentClipId: extended.id });

      expect(await store.clip(extended.id)).toMatchObject({ parentClipId: original.id, secondParentClipId: null });
      expect(await store.clip(bridge.id)).toMatchObject({
        parentClipId: original.id,
        secondParentClipId: extended.id,
        seed: 2 ** 40 + 3,
        sizeBytes: 1_234_567,
      });
      expect((await store.recentClips(tenant.user.id, 2)).map((clip) => clip.id)).toEqual([bridge.id, extended.id]);
      expect(await store.clip('missing')).toBeNull();
    });

    it('deletes a result: the clip and its history entry go, the charge stays, a second delete does nothing', async () => {
      const tenant = await newTenant(store);
      await store.setUserLimits(tenant.user.id, { maxQueuedJobs: 10 });
      const now = at('2031-05-07T12:00:00Z');
      const kept = okJob(await store.reserve(reserveInput(tenant, { now })));
      const doomed = okJob(await store.reserve(reserveInput(tenant, { now: at('2031-05-07T12:01:00Z') })));
      const running = okJob(await store.reserve(reserveInput(tenant, { now: at('2031-05-07T12:02:00Z') })));
      await store.complete(kept.id, { chargedSeconds: 4, clip: clipOf(), now });
      const clip = (await store.complete(doomed.id, { chargedSeconds: 6, clip: clipOf(), now })).job!.clip!;
      const child = await store.reserve(reserveInput(tenant, { now }));
      await store.complete(okJob(child).id, { chargedSeconds: 1, clip: clipOf({ parentClipId: clip.id }), now });

      const deleted = await store.deleteResult(doomed.id, at('2031-05-07T12:05:00Z'));
      const again = await store.deleteResult(doomed.id, at('2031-05-07T12:06:00Z'));

      expect(deleted).toEqual({ clip: expect.objectContaining({ id: clip.id, mp4Path: clip.mp4Path }) });
      expect(again).toBeNull();
      expect(await store.deleteResult(running.id, now)).toBeNull();
      expect(await store.clip(clip.id)).toBeNull();
      expect((await store.history(tenant.user.id, { limit: 10 })).map((job) => job.id)).not.toContain(doomed.id);
      expect(await store.job(doomed.id)).toMatchObject({ deletedAt: at('2031-05-07T12:05:00Z'), clip: null });
      expect((await store.quota(tenant.user.id, tenant.workspace.id, now)).usedSeconds).toBe(11);
      expect((await store.recentClips(tenant.user.id, 5)).map((c) => c.parentClipId)).toContain(null);
    });

    it('pages through history newest first', async () => {
      const tenant = await newTenant(store);
      await store.setUserLimits(tenant.user.id, { maxQueuedJobs: 10 });
      const ids: string[] = [];
      for (let minute = 0; minute < 5; minute += 1) {
        const now = at(`2031-05-06T12:0${minute}:00Z`);
        ids.push(okJob(await store.reserve(reserveInput(tenant, { now }))).id);
      }

      const page1 = await store.history(tenant.user.id, { limit: 2 });
      const page2 = await store.history(tenant.user.id, { limit: 2, before: page1.at(-1)!.createdAt });

      expect(page1.map((job) => job.id)).toEqual([ids[4], ids[3]]);
      expect(page2.map((job) => job.id)).toEqual([ids[2], ids[1]]);
      expect(await store.job('missing')).toBeNull();
    });
  });
});
