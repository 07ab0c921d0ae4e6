import { z } from 'zod';
import { JobName, parseJobProgress } from '../../commands/index.ts';
import type { Platform } from '../../prisma/types.ts';
import type { Service } from '../service.ts';

/** Largest limit the dashboard accepts, seconds: far past any real day, well inside PostgreSQL's 32-bit Int. */
const MAX_SECONDS = 10_000_000;

const seconds = (what: string) =>
  z
    .number({ error: `${what} must be a number of seconds` })
    .int(`${what} must be whole seconds`)
    .min(1, `${what} must be at least 1 second; to stop generation use Pause queue, or ban a user`)
    .max(MAX_SECONDS, `${what} must be at most ${MAX_SECONDS} seconds`);

/** What the dashboard may change; each schema's messages are what the operator reads in the page. */
export const AdminBodies = {
  limits: z
    .object({
      workspaceId: z.string().min(1, 'pick a workspace'),
      userDailyGpuSeconds: seconds('GPU seconds per user per day').optional(),
      userMaxQueuedJobs: z
        .number({ error: 'jobs in flight per user must be a number' })
        .int('jobs in flight per user must be a whole number')
        .min(1, 'jobs in flight per user must be at least 1: with 0 nobody in the workspace could queue a job')
        .max(100, 'jobs in flight per user must be at most 100')
        .optional(),
      /** null removes the workspace budget. */
      dailyBudgetSeconds: seconds('the workspace budget').nullable().optional(),
    })
    .strict(),
  block: z
    .object({
      workspaceId: z.string().min(1, 'pick a workspace'),
      pattern: z.string().trim().min(1, 'type a word or a regular expression to block').max(200),
      kind: z.enum(['word', 'regex']).default('word'),
    })
    .strict(),
  unblock: z.object({ workspaceId: z.string().min(1), ruleId: z.string().min(1, 'no rule given') }).strict(),
  ban: z
    .object({
      workspaceId: z.string().min(1, 'pick a workspace'),
      user: z
        .string({ error: 'type the user to ban' })
        .trim()
        .min(1, 'type the user to ban: a playground name, a Discord user id or a Slack user id')
        .max(64, 'a user id is at most 64 characters'),
      reason: z.string().trim().max(200).optional(),
    })
    .strict(),
} as const;

export type AdminAnswer = { status: number; body: { ok: boolean; error?: string; [key: string]: unknown } };

const refuse = (error: z.ZodError): AdminAnswer => {
  const issue = error.issues[0];
  const field = issue?.path.join('.');
  // Unknown keys are named so a script with a typo learns which one; other messages already say what to fix.
  const message =
    issue?.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : (issue?.message ?? 'invalid');
  return { status: 400, body: { ok: false, error: message, ...(field ? { field } : {}) } };
};

/**
 * The operator dashboard's actions and state, for every workspace the bot serves (Discord guilds, Slack teams and
 * the playground): queue control, per-workspace quota policy and blocklist, bans. Bodies are checked with zod and
 * refused with 400 and a message the page shows; nothing is changed by a refused request.
 */
export function createAdmin(service: Service, playground: () => Promise<{ id: string }>) {
  const workspaceOf = async (id: string | undefined) => {
    if (id === undefined || id === '') return service.store.workspace((await playground()).id);
    return service.store.workspace(id);
  };
  const missing = (id: string): AdminAnswer => ({
    status: 404,
    body: { ok: false, error: `workspace ${id} is not known to this bot`, field: 'workspaceId' },
  });

  async function state(workspaceId: string | undefined) {
    const workspace = await workspaceOf(workspaceId);
    if (workspace === null) return missing(String(workspaceId));
    const [counts, failedJobs, workers, paused, active, workspaces, clip] = await Promise.all([
      service.generate.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
      service.generate.getJobs(['failed'], 0, 49),
      service.generate.getWorkers(),
      service.generate.isPaused(),
      service.generate.getJobs(['active'], 0, 63),
      service.store.listWorkspaces(),
      service.frontEnd.clipSeconds(),
    ]);
    // A cancelled job ends as "failed" in BullMQ (the worker aborts it); the store knows what really happened.
    const ended = await Promise.all(
      failedJobs.map(async (j) => ({ queued: j, record: j.id === undefined ? null : await service.store.job(j.id) })),
    );
    const failed = ended
      .filter(({ record }) => record?.status !== 'cancelled')
      .map(({ queued, record }) => ({
        id: queued.id,
        code: record?.error?.code ?? null,
        reason: record?.error?.message ?? queued.failedReason,
        attempts: queued.attemptsMade,
        finishedAt: record?.finishedAt ?? null,
      }));
    const cancelled = ended
      .filter(({ record }) => record?.status === 'cancelled')
      .map(({ queued, record }) => ({ id: queued.id, finishedAt: record?.finishedAt ?? null }));
    // Running jobs by worker: the worker names itself in each progress event; processedBy covers the first step.
    const running = new Map<string, { jobId: string | undefined; step: number | null; total: number | null }>();
    for (const j of active) {
      const p = parseJobProgress(JobName.Generate, j.progress);
      running.set(p?.workerId ?? j.processedBy ?? '', {
        jobId: j.id,
        step: p?.step ?? null,
        total: p?.total ?? (typeof j.data?.request?.steps === 'number' ? j.data.request.steps : null),
      });
    }
    const usage = await service.store.usageByUser(workspace.id, new Date(Date.now() - 86_400_000));
    return {
      status: 200,
      body: {
        ok: true,
        paused,
        counts,
        failed,
        cancelled,
        workers: workers.map((w) => {
          const name = w['rawname']?.split(':w:')[1] ?? w['name'] ?? w['id'] ?? '?';
          return { name, address: w['addr'], age: w['age'], job: running.get(name) ?? null };
        }),
        workspaces: workspaces.map((w) => ({ id: w.id, platform: w.platform, name: w.name, externalId: w.externalId })),
        usage,
        blocklist: await service.store.listBlockRules(workspace.id),
        workspaceUsage: {
          name: workspace.name,
          chargedSeconds: usage.reduce((sum, u) => sum + u.chargedSeconds, 0),
          jobs: usage.reduce((sum, u) => sum + u.jobs, 0),
        },
        workspace: {
          id: workspace.id,
          platform: workspace.platform,
          name: workspace.name,
          userDailyGpuSeconds: workspace.userDailyGpuSeconds,
          userMaxQueuedJobs: workspace.userMaxQueuedJobs,
          dailyBudgetSeconds: workspace.dailyBudgetSeconds,
        },
        /** What one default clip takes on this pack (measured on the workers when they have run some). */
        clip,
      },
    } satisfies AdminAnswer;
  }

  async function act(action: string, raw: unknown): Promise<AdminAnswer> {
    const body = typeof raw === 'object' && raw !== null ? raw : {};
    switch (action) {
      case 'pause':
        await service.generate.pause();
        return { status: 200, body: { ok: true } };
      case 'resume':
        await service.generate.resume();
        return { status: 200, body: { ok: true } };
      case 'limits': {
        const parsed = AdminBodies.limits.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        const { workspaceId, ...limits } = parsed.data;
        if (Object.keys(limits).length === 0)
          return { status: 400, body: { ok: false, error: 'no limit given: nothing was changed' } };
        const updated = await service.store.setWorkspaceLimits(workspaceId, {
          ...(limits.userDailyGpuSeconds === undefined ? {} : { userDailyGpuSeconds: limits.userDailyGpuSeconds }),
          ...(limits.userMaxQueuedJobs === undefined ? {} : { userMaxQueuedJobs: limits.userMaxQueuedJobs }),
          ...(limits.dailyBudgetSeconds === undefined ? {} : { dailyBudgetSeconds: limits.dailyBudgetSeconds }),
        });
        return updated === null ? missing(workspaceId) : { status: 200, body: { ok: true, workspace: updated } };
      }
      case 'block': {
        const parsed = AdminBodies.block.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        if ((await service.store.workspace(parsed.data.workspaceId)) === null) return missing(parsed.data.workspaceId);
        const added = await service.store.addBlockRule(parsed.data.workspaceId, {
          pattern: parsed.data.pattern,
          kind: parsed.data.kind,
          createdBy: 'dashboard',
        });
        return added.ok
          ? { status: 200, body: { ok: true, rule: added.rule } }
          : { status: 400, body: { ok: false, error: added.message, field: 'pattern' } };
      }
      case 'unblock': {
        const parsed = AdminBodies.unblock.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        const removed = await service.store.removeBlockRule(parsed.data.workspaceId, parsed.data.ruleId);
        return removed
          ? { status: 200, body: { ok: true } }
          : { status: 404, body: { ok: false, error: `rule ${parsed.data.ruleId} is not in this workspace` } };
      }
      case 'ban':
      case 'unban': {
        const parsed = AdminBodies.ban.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        const workspace = await service.store.workspace(parsed.data.workspaceId);
        if (workspace === null) return missing(parsed.data.workspaceId);
        const platform: Platform = workspace.platform;
        const id = parsed.data.user;
        const known = await service.store.findUser(platform, id);
        if (action === 'unban') {
          if (known === null)
            return {
              status: 404,
              body: { ok: false, error: `no ${platform} user ${id} has used this bot`, field: 'user' },
            };
          await service.store.unban(known.id);
          return { status: 200, body: { ok: true, user: { id: known.id, displayName: known.displayName } } };
        }
        // A user who has not used the bot yet can be banned ahead; the row then carries the id as its name.
        const user = known ?? (await service.store.ensureUser({ platform, externalId: id, displayName: id }));
        await service.store.ban(user.id, parsed.data.reason || 'banned by an operator');
        return { status: 200, body: { ok: true, user: { id: user.id, displayName: user.displayName } } };
      }
      default:
        return { status: 404, body: { ok: false, error: `unknown admin action ${action}` } };
    }
  }

  return { state, act };
}
