import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorActor } from '../../bot/core/operator.ts';
import { type Stack, startStack } from '../service/stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
let stack: Stack;
let here: string;
let there: string;

beforeAll(async () => {
  stack = await startStack({ redisUrl: REDIS_URL });
  // The stack's own submissions go to the `tests` workspace.
  here = (await stack.service.frontEnd.identifyWorkspace({ platform: 'local', externalId: 'tests', name: 'tests' }))
    .workspaceId;
  there = (await stack.service.frontEnd.identifyWorkspace({ platform: 'slack', externalId: 'T9', name: 'T9' }))
    .workspaceId;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const op = () => stack.service.frontEnd.operator;
const deployment: OperatorActor = { admin: true };
const ownOperator = (): OperatorActor => ({ admin: true, workspaceId: here });
const member: OperatorActor = { admin: false };
const t2v = { task: 't2v' as const, prompt: 'a red circle moves right', steps: 2, frames: 17 };
const refused = (message: RegExp, code = 'NotAllowed') => ({
  ok: false,
  error: expect.objectContaining({ code, message: expect.stringMatching(message) }),
});

describe('operator actions in the core, scoped by access.ts (real SQLite and Redis)', () => {
  it('pauses and resumes the shared queue for deployment operators only', async () => {
    const byOwn = await op().pause(ownOperator());
    const byMember = await op().pause(member);
    const pausedAfterRefusals = await stack.service.generate.isPaused();
    const paused = await op().pause(deployment);
    const isPaused = await stack.service.generate.isPaused();
    const resumed = await op().resume(deployment);

    expect(byOwn).toMatchObject(refused(/every server this bot serves, so only its operators/));
    expect(byMember).toMatchObject(refused(/operators of this bot only/));
    expect(pausedAfterRefusals).toBe(false);
    expect([paused, isPaused, resumed]).toEqual([{ ok: true }, true, { ok: true }]);
    expect(await stack.service.generate.isPaused()).toBe(false);
  });

  it("sets a user's own quota (it follows them everywhere, so deployment operators only) and checks the number", async () => {
    const grace = { platform: 'local' as const, externalId: 'grace-q', displayName: 'grace' };

    const byOwn = await op().setUserQuota(ownOperator(), grace, 30);
    const negative = await op().setUserQuota(deployment, grace, -1);
    const set = await op().setUserQuota(deployment, grace, 30);

    expect(byOwn).toMatchObject(refused(/only its operators/));
    expect(negative).toMatchObject(refused(/whole GPU seconds/, 'InvalidOption'));
    expect(set).toMatchObject({ ok: true, user: { dailyGpuSeconds: 30 } });
    expect((await stack.service.store.findUser('local', 'grace-q'))?.dailyGpuSeconds).toBe(30);
  });

  it("lets a workspace's operators change its limits, not another's", async () => {
    const own = await op().setWorkspaceLimits(ownOperator(), here, { userMaxQueuedJobs: 5 });
    const other = await op().setWorkspaceLimits(ownOperator(), there, { userMaxQueuedJobs: 5 });
    const nothing = await op().setWorkspaceLimits(deployment, here, {});
    const unknown = await op().setWorkspaceLimits(deployment, 'no-such-workspace', { userMaxQueuedJobs: 5 });

    expect(own).toMatchObject({ ok: true, workspace: { id: here, userMaxQueuedJobs: 5 } });
    expect(other).toMatchObject(refused(/another workspace/));
    expect((await stack.service.store.workspace(there))?.userMaxQueuedJobs).not.toBe(5);
    expect(nothing).toMatchObject(refused(/no limit given/, 'InvalidOption'));
    expect(unknown).toMatchObject(refused(/not known to this bot/, 'NotFound'));
    expect(unknown.ok === false && unknown.error.context['field']).toBe('workspaceId');
  });

  it('bans ahead of first use, refuses the banned user, and unbans only someone known', async () => {
    const eve = { platform: 'local' as const, externalId: 'eve', displayName: 'eve' };

    const byOwn = await op().ban(ownOperator(), eve, 'spam');
    const banned = await op().ban(deployment, eve, 'spam');
    const submitted = await stack.submit(t2v, { user: 'eve' });
    const unknown = await op().unban(deployment, { platform: 'local', externalId: 'nobody' });
    const unbanned = await op().unban(deployment, eve);

    expect(byOwn).toMatchObject(refused(/only its operators/));
    expect(banned).toMatchObject({ ok: true, user: { banned: true, banReason: 'spam' } });
    expect(submitted).toMatchObject({ ok: false, error: { code: 'Banned' } });
    expect(unknown).toMatchObject(refused(/no local user nobody has used this bot/, 'NotFound'));
    expect(unbanned).toMatchObject({ ok: true, user: { banned: false } });
  });

  it("keeps a workspace's blocklist to its operators and applies it to prompts", async () => {
    const added = await op().block(ownOperator(), here, { pattern: 'forbidden', createdBy: 'test' });
    const elsewhere = await op().block(ownOperator(), there, { pattern: 'forbidden', createdBy: 'test' });
    const badRegex = await op().block(deployment, here, { pattern: '(', kind: 'regex', createdBy: 'test' });
    const refusedPrompt = await stack.submit({ ...t2v, prompt: 'a forbidden circle' });
    const listed = await op().blocklist(ownOperator(), here);
    if (!added.ok) throw added.error;
    const removed = await op().unblock(ownOperator(), here, added.rule.id);
    const again = await op().unblock(ownOperator(), here, added.rule.id);

    expect(elsewhere).toMatchObject(refused(/another workspace/));
    expect(badRegex).toMatchObject({ ok: false, error: { code: 'InvalidOption', context: { field: 'pattern' } } });
    expect(refusedPrompt).toMatchObject({ ok: false, error: { code: 'BlockedPrompt' } });
    expect(listed).toMatchObject({ ok: true, rules: [{ id: added.rule.id, pattern: 'forbidden' }] });
    expect(removed).toEqual({ ok: true });
    expect(again).toMatchObject(refused(/not in this workspace/, 'NotFound'));
  });

  it("gives the dashboard's overview of the shared queue to deployment operators only", async () => {
    const queued = await stack.submit(t2v, { user: 'ada' });
    if (!queued.ok) throw queued.error;

    const overview = await op().overview(deployment, here);
    const byOwn = await op().overview(ownOperator(), here);

    expect(overview).toMatchObject({
      ok: true,
      paused: false,
      workspace: { id: here },
      workspaces: expect.arrayContaining([expect.objectContaining({ id: there })]),
    });
    expect(overview.ok && Object.values(overview.counts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(byOwn).toMatchObject(refused(/only its operators/));
    expect(await op().health()).toEqual({ database: true, queue: true });
  });
});
