import type { Queue } from 'bullmq';
import { type GenerateJobData, JobName, parseJobProgress, UserError } from '../../commands/index.ts';
import type {
  BlockRuleKind,
  BlockRuleRecord,
  EnsureUserInput,
  Platform,
  Store,
  UserRecord,
  WorkspaceLimits,
  WorkspaceRecord,
} from '../../prisma/types.ts';
import { type Actor, mayOperate, type OperatorReach } from './access.ts';
import { CHART_WINDOWS, type ChartSeries, type ChartWindow, chartSeries } from './charts.ts';

/** Who acts: `admin` as the platform says (see `Actor.admin`); with `workspaceId`, an operator of that one only. */
export type OperatorActor = Pick<Actor, 'admin' | 'workspaceId'>;
export type Done<TValue extends object = object> = ({ ok: true } & TValue) | { ok: false; error: UserError };

/** Most jobs (and charges) one chart window reads; past it the charts say they show part of the window. */
export const CHART_ROWS = 50_000;

/** Largest daily limit accepted, seconds: far past any real day, well inside PostgreSQL's 32-bit Int. */
export const MAX_LIMIT_SECONDS = 10_000_000;

/**
 * The operators' actions, once for every front end (Discord's and Slack's `/admin`, the dashboard): adapters parse
 * their platform's command or form into these calls and word the answers. Each call checks its reach with
 * `mayOperate` (bot/core/access.ts) before it changes anything, so the power of an operator is decided here only:
 * a workspace's operators change that workspace's limits and blocklist; pausing the shared queue, the queue's
 * overview, a user's quota and bans (which follow the user everywhere) are the deployment operators'.
 */
export function createOperator(deps: {
  store: Store;
  generate: Queue;
  /** What one default clip takes (the front end's `clipSeconds`), shown beside the limits. */
  clipSeconds: () => Promise<unknown>;
  now?: () => Date;
}) {
  const { store, generate } = deps;
  const now = deps.now ?? (() => new Date());
  const everyone: OperatorReach = { kind: 'everyone' };

  /** Runs `work` when `by` may reach `reach`; the refusal otherwise. */
  async function gated<TValue extends object>(
    by: OperatorActor,
    reach: OperatorReach,
    what: string,
    work: () => Promise<Done<TValue>>,
  ): Promise<Done<TValue>> {
    const verdict = mayOperate(by, reach, what);
    return verdict.ok ? await work() : verdict;
  }
  const unknownWorkspace = (id: string) =>
    new UserError('NotFound', `workspace ${id} is not known to this bot`, { field: 'workspaceId' });
  const wholeSeconds = (seconds: number, what: string): UserError | undefined =>
    Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_LIMIT_SECONDS
      ? undefined
      : new UserError(
          'InvalidOption',
          `${what} must be whole GPU seconds from 0 to ${MAX_LIMIT_SECONDS}; got ${seconds}`,
        );
  /** A workspace-scoped action on a workspace that exists. */
  const onWorkspace = <TValue extends object>(
    by: OperatorActor,
    workspaceId: string,
    what: string,
    work: (workspace: WorkspaceRecord) => Promise<Done<TValue>>,
  ) =>
    gated<TValue>(by, { kind: 'workspace', workspaceId }, what, async () => {
      const workspace = await store.workspace(workspaceId);
      return workspace === null ? { ok: false, error: unknownWorkspace(workspaceId) } : await work(workspace);
    });

  return {
    /** Stops workers taking new jobs (running ones finish): the queue every workspace shares. */
    pause: (by: OperatorActor) =>
      gated(by, everyone, 'pausing the queue', async () => {
        await generate.pause();
        return { ok: true };
      }),
    resume: (by: OperatorActor) =>
      gated(by, everyone, 'resuming the queue', async () => {
        await generate.resume();
        return { ok: true };
      }),

    /** A user's own daily GPU seconds, over their workspace's default; it follows them into every workspace. */
    setUserQuota: (by: OperatorActor, user: EnsureUserInput, seconds: number) =>
      gated<{ user: UserRecord }>(by, everyone, "setting a user's quota", async () => {
        const invalid = wholeSeconds(seconds, 'the quota');
        if (invalid !== undefined) return { ok: false, error: invalid };
        const known = await store.ensureUser(user);
        const updated = await store.setUserLimits(known.id, { dailyGpuSeconds: seconds });
        return { ok: true, user: updated ?? known };
      }),

    /** One workspace's defaults and budget; at least one limit must be given. */
    setWorkspaceLimits: (by: OperatorActor, workspaceId: string, limits: WorkspaceLimits) =>
      onWorkspace<{ workspace: WorkspaceRecord }>(by, workspaceId, "changing a workspace's limits", async () => {
        const given = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as WorkspaceLimits;
        if (Object.keys(given).length === 0)
          return { ok: false, error: new UserError('InvalidOption', 'no limit given: nothing was changed') };
        for (const [key, value] of Object.entries(given)) {
          const invalid =
            value === null
              ? undefined
              : key.endsWith('Seconds')
                ? wholeSeconds(value, key)
                : Number.isInteger(value) && value >= 1 && value <= 100
                  ? undefined
                  : new UserError('InvalidOption', `${key} must be a whole number from 1 to 100; got ${value}`);
          if (invalid !== undefined) return { ok: false, error: invalid };
        }
        const updated = await store.setWorkspaceLimits(workspaceId, given);
        return updated === null
          ? { ok: false, error: unknownWorkspace(workspaceId) }
          : { ok: true, workspace: updated };
      }),

    /**
     * Bans a user from generating anywhere; one who has not used the bot yet is banned ahead (the row then carries
     * the id as its name until they come).
     */
    ban: (by: OperatorActor, user: EnsureUserInput, reason: string) =>
      gated<{ user: UserRecord }>(by, everyone, 'banning a user', async () => {
        const known = (await store.findUser(user.platform, user.externalId)) ?? (await store.ensureUser(user));
        const banned = await store.ban(known.id, reason.trim() || 'banned by an operator');
        return { ok: true, user: banned ?? known };
      }),
    unban: (by: OperatorActor, user: { platform: Platform; externalId: string }) =>
      gated<{ user: UserRecord }>(by, everyone, 'unbanning a user', async () => {
        const known = await store.findUser(user.platform, user.externalId);
        if (known === null)
          return {
            ok: false,
            error: new UserError('NotFound', `no ${user.platform} user ${user.externalId} has used this bot`, {
              field: 'user',
            }),
          };
        return { ok: true, user: (await store.unban(known.id)) ?? known };
      }),

    /** One workspace as its operators see it (its platform, names and limits). */
    workspace: (by: OperatorActor, workspaceId: string) =>
      onWorkspace<{ workspace: WorkspaceRecord }>(by, workspaceId, 'reading a workspace', async (workspace) => ({
        ok: true,
        workspace,
      })),

    /** Refuses prompts of this workspace that contain a word (or match a regular expression). */
    block: (
      by: OperatorActor,
      workspaceId: string,
      rule: { pattern: string; kind?: BlockRuleKind; createdBy: string },
    ) =>
      onWorkspace<{ rule: BlockRuleRecord }>(by, workspaceId, "changing a workspace's blocklist", async () => {
        const pattern = rule.pattern.trim();
        if (pattern === '')
          return {
            ok: false,
            error: new UserError('InvalidOption', 'type a word or a regular expression to block', { field: 'pattern' }),
          };
        const added = await store.addBlockRule(workspaceId, {
          pattern,
          kind: rule.kind ?? 'word',
          createdBy: rule.createdBy,
          now: now(),
        });
        return added.ok
          ? { ok: true, rule: added.rule }
          : { ok: false, error: new UserError('InvalidOption', added.message, { field: 'pattern' }) };
      }),
    unblock: (by: OperatorActor, workspaceId: string, ruleId: string) =>
      onWorkspace<object>(by, workspaceId, "changing a workspace's blocklist", async () =>
        (await store.removeBlockRule(workspaceId, ruleId))
          ? { ok: true }
          : { ok: false, error: new UserError('NotFound', `rule ${ruleId} is not in this workspace`) },
      ),
    blocklist: (by: OperatorActor, workspaceId: string) =>
      onWorkspace<{ rules: BlockRuleRecord[] }>(by, workspaceId, "reading a workspace's blocklist", async () => ({
        ok: true,
        rules: await store.listBlockRules(workspaceId),
      })),

    /**
     * The dashboard's view: the queue every workspace shares (counts, workers and what each runs, failed and
     * cancelled jobs, paused or not), the workspaces, and one workspace's usage, limits and blocklist.
     */
    overview: (by: OperatorActor, workspaceId: string) =>
      onWorkspace<Awaited<ReturnType<typeof overviewOf>>>(
        by,
        workspaceId,
        "the queue's overview",
        async (workspace) => {
          const reach = mayOperate(by, everyone, "the queue's overview");
          if (!reach.ok) return reach;
          return { ok: true, ...(await overviewOf(workspace)) };
        },
      ),

    /**
     * The dashboard's charts over the last hour or day, every workspace together (the queue is shared): queue
     * depth, wait, throughput, GPU seconds per user and workspace, each worker's busy share (bot/core/charts.ts).
     */
    charts: (by: OperatorActor, window: ChartWindow) =>
      gated<{ charts: ChartSeries }>(by, everyone, "the queue's charts", async () => {
        const until = now();
        const since = new Date(until.getTime() - CHART_WINDOWS[window].ms);
        const activity = await store.activity({ since, until, limit: CHART_ROWS });
        return { ok: true, charts: chartSeries(activity, window, until) };
      }),

    /** Job counts by state, for the host's metrics (its health port, bound to loopback). */
    queueCounts: () => generate.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
    /** Whether the database and the queue answer, for the host's health check. */
    async health(): Promise<{ database: boolean; queue: boolean }> {
      const [database, queue] = await Promise.allSettled([store.ping(), generate.getJobCounts('waiting')]);
      return { database: database.status === 'fulfilled', queue: queue.status === 'fulfilled' };
    },
  };

  async function overviewOf(workspace: WorkspaceRecord) {
    const [counts, failedJobs, workers, paused, active, workspaces, clip] = await Promise.all([
      generate.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
      generate.getJobs(['failed'], 0, 49),
      generate.getWorkers(),
      generate.isPaused(),
      generate.getJobs(['active'], 0, 63),
      store.listWorkspaces(),
      deps.clipSeconds(),
    ]);
    // A cancelled job ends as "failed" in BullMQ (the worker aborts it); the store knows what really happened.
    const ended = await Promise.all(
      failedJobs.map(async (j) => ({ queued: j, record: j.id === undefined ? null : await store.job(j.id) })),
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
      const steps = (j.data as GenerateJobData | undefined)?.request?.steps;
      running.set(p?.workerId ?? j.processedBy ?? '', {
        jobId: j.id,
        step: p?.step ?? null,
        total: p?.total ?? (typeof steps === 'number' ? steps : null),
      });
    }
    const usage = await store.usageByUser(workspace.id, new Date(now().getTime() - 86_400_000));
    return {
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
      blocklist: await store.listBlockRules(workspace.id),
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
    };
  }
}
export type Operator = ReturnType<typeof createOperator>;
