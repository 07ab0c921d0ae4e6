import { z } from 'zod';
import type { UserError } from '../../commands/index.ts';
import { type Done, MAX_LIMIT_SECONDS as MAX_SECONDS, type Operator } from '../core/operator.ts';

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

/** The core's refusal as an HTTP answer: its words, the status its code means, and the field it names. */
const refused = (error: UserError): AdminAnswer => {
  const status = error.code === 'NotFound' ? 404 : error.code === 'NotAllowed' ? 403 : 400;
  const field = error.context['field'];
  return { status, body: { ok: false, error: error.message, ...(typeof field === 'string' ? { field } : {}) } };
};
const answer = <TValue extends object>(done: Done<TValue>, body: (value: TValue) => object = () => ({})) =>
  done.ok ? { status: 200, body: { ok: true, ...body(done) } } : refused(done.error);

/**
 * The operator dashboard: the web's words for the core's operator actions (bot/core/operator.ts), for every
 * workspace the bot serves (Discord guilds, Slack teams and the playground). Bodies are checked with zod and refused
 * with 400 and a message the page shows; nothing is changed by a refused request. Whoever holds the dashboard's
 * token (or, on loopback, its page) operates the whole deployment.
 */
export function createAdmin(operator: Operator, playground: () => Promise<{ workspaceId: string }>) {
  const by = { admin: true } as const;

  async function state(workspaceId: string | undefined): Promise<AdminAnswer> {
    const id = workspaceId === undefined || workspaceId === '' ? (await playground()).workspaceId : workspaceId;
    const overview = await operator.overview(by, id);
    if (!overview.ok) return refused(overview.error);
    const { ok: _, ...body } = overview;
    return { status: 200, body: { ok: true, ...body } };
  }

  /** The charts over `window` ('1h' unless '24h' is asked for). */
  async function charts(window: string | undefined): Promise<AdminAnswer> {
    if (window !== undefined && window !== '1h' && window !== '24h')
      return { status: 400, body: { ok: false, error: `window must be 1h or 24h; got ${window}`, field: 'window' } };
    return answer(await operator.charts(by, window ?? '1h'), ({ charts: c }) => ({ charts: c }));
  }

  async function act(action: string, raw: unknown): Promise<AdminAnswer> {
    const body = typeof raw === 'object' && raw !== null ? raw : {};
    switch (action) {
      case 'pause':
        return answer(await operator.pause(by));
      case 'resume':
        return answer(await operator.resume(by));
      case 'limits': {
        const parsed = AdminBodies.limits.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        const { workspaceId, ...limits } = parsed.data;
        return answer(
          await operator.setWorkspaceLimits(by, workspaceId, {
            ...(limits.userDailyGpuSeconds === undefined ? {} : { userDailyGpuSeconds: limits.userDailyGpuSeconds }),
            ...(limits.userMaxQueuedJobs === undefined ? {} : { userMaxQueuedJobs: limits.userMaxQueuedJobs }),
            ...(limits.dailyBudgetSeconds === undefined ? {} : { dailyBudgetSeconds: limits.dailyBudgetSeconds }),
          }),
          ({ workspace }) => ({ workspace }),
        );
      }
      case 'block': {
        const parsed = AdminBodies.block.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        return answer(
          await operator.block(by, parsed.data.workspaceId, {
            pattern: parsed.data.pattern,
            kind: parsed.data.kind,
            createdBy: 'dashboard',
          }),
          ({ rule }) => ({ rule }),
        );
      }
      case 'unblock': {
        const parsed = AdminBodies.unblock.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        return answer(await operator.unblock(by, parsed.data.workspaceId, parsed.data.ruleId));
      }
      case 'ban':
      case 'unban': {
        const parsed = AdminBodies.ban.safeParse(body);
        if (!parsed.success) return refuse(parsed.error);
        // The user is named as the workspace's platform knows them: a playground name, a Discord or Slack user id.
        const found = await operator.workspace(by, parsed.data.workspaceId);
        if (!found.ok) return refused(found.error);
        const id = parsed.data.user;
        const user = { platform: found.workspace.platform, externalId: id, displayName: id };
        const done =
          action === 'unban'
            ? await operator.unban(by, user)
            : await operator.ban(by, user, parsed.data.reason || 'banned by an operator');
        return answer(done, ({ user: u }) => ({ user: { id: u.id, displayName: u.displayName } }));
      }
      default:
        return { status: 404, body: { ok: false, error: `unknown admin action ${action}` } };
    }
  }

  return { state, charts, act };
}
