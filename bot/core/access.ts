import { UserError } from '../../commands/index.ts';
import type { JobRecord } from '../../prisma/types.ts';

/**
 * What someone may do with an existing job:
 * - `see`: read its parameters (Info: the prompt, the negative prompt, the seed);
 * - `derive`: make a clip from it (Extend, Re-roll, Remix, Transition);
 * - `delete`: remove its result;
 * - `cancel`: stop it while it is queued or running.
 */
export type JobAction = 'see' | 'derive' | 'delete' | 'cancel';

/** Who is asking, in the core's ids (internal user and workspace ids, the platform's conversation id). */
export interface Actor {
  readonly userId: string;
  /** The workspace (Discord guild, Slack team) the request comes from; operator powers apply only there. */
  readonly workspaceId?: string;
  /** The conversation (channel) the request comes from: a public result is open to those who can see it there. */
  readonly channelId?: string;
  /**
   * Other conversations the front end has checked the actor can read (the channel of a linked message, checked
   * against the platform's permissions before the bot reads it with its own access).
   */
  readonly seenIn?: readonly string[];
  /**
   * An operator: with `workspaceId`, of that workspace only (Manage Server on Discord is per guild); without it, an
   * operator of the whole deployment (Slack's SLACK_ADMIN_USER_IDS, set by whoever runs the bot).
   */
  readonly admin?: boolean;
}

export type Access = { ok: true; private: boolean } | { ok: false; error: UserError };

/** Where a job was posted, from its stored origin. */
function postedIn(job: Pick<JobRecord, 'origin'>): { channelId: string | undefined; private: boolean } {
  // Read field by field rather than through parseOrigin: a row whose origin does not parse as a whole still says
  // where it was posted and whether it is private, and refusing to see that would turn a private result public.
  const channelId = job.origin['channelId'];
  const ephemeral = job.origin['ephemeral'];
  return { channelId: typeof channelId === 'string' ? channelId : undefined, private: ephemeral === true };
}

/**
 * The one authorization rule for jobs, used by every front end through the core:
 * - the owner may do everything;
 * - a private (ephemeral) result is its owner's alone: nobody else may see it or derive from it, and only its owner
 *   can know it exists, so the refusal does not say whose it is;
 * - a public result may be seen and derived from by those in the conversation it was posted in (they saw it there);
 *   elsewhere its id alone grants nothing, since button ids can be forged;
 * - delete and cancel are the owner's, or an operator's of the job's own workspace: a Manage Server member of
 *   another guild has no power here.
 * `private` in the answer says whether what is made from this job must stay private: a clip derived from a private
 * clip is private too.
 */
export function access(
  job: Pick<JobRecord, 'id' | 'userId' | 'workspaceId' | 'origin'>,
  actor: Actor,
  action: JobAction,
): Access {
  const posted = postedIn(job);
  if (job.userId === actor.userId) return { ok: true, private: posted.private };
  if (action === 'delete' || action === 'cancel') {
    if (operates(actor, job.workspaceId)) return { ok: true, private: posted.private };
    return {
      ok: false,
      error: new UserError(
        'NotAllowed',
        `job ${job.id} was not found among your requests: only the person who made it, or an operator of the server it was made in, can ${action} it`,
      ),
    };
  }
  if (posted.private)
    return {
      ok: false,
      error: new UserError('NotAllowed', `job ${job.id} is a private result; only the person who made it can use it`),
    };
  const here =
    posted.channelId !== undefined &&
    actor.workspaceId === job.workspaceId &&
    (posted.channelId === actor.channelId || (actor.seenIn ?? []).includes(posted.channelId));
  if (here) return { ok: true, private: false };
  return {
    ok: false,
    error: new UserError(
      'NotAllowed',
      `job ${job.id} was posted in another conversation; open it there, or ask the person who made it`,
    ),
  };
}

/** Whether the actor operates `workspaceId`: its own operator, or a deployment operator (no workspace given). */
function operates(actor: Pick<Actor, 'admin' | 'workspaceId'>, workspaceId: string): boolean {
  return actor.admin === true && (actor.workspaceId === undefined || actor.workspaceId === workspaceId);
}

/**
 * What an operator action reaches:
 * - `workspace`: one workspace's policy (its limits, its blocklist): that workspace's operators, or a deployment's;
 * - `everyone`: what every workspace shares (pausing the one queue, the dashboard's view of it, and a user's own
 *   quota and ban, which follow the user into every server they use): deployment operators only.
 */
export type OperatorReach = { kind: 'workspace'; workspaceId: string } | { kind: 'everyone' };

/**
 * The one rule for operator actions, used by every front end through the core (bot/core/operator.ts). Who counts as
 * an operator is the platform's to say (Manage Server and DISCORD_OPERATOR_IDS, SLACK_ADMIN_USER_IDS, the
 * dashboard's token); what each may reach is decided here.
 */
export function mayOperate(
  actor: Pick<Actor, 'admin' | 'workspaceId'>,
  reach: OperatorReach,
  what: string,
): { ok: true } | { ok: false; error: UserError } {
  if (actor.admin !== true)
    return { ok: false, error: new UserError('NotAllowed', `${what} is for operators of this bot only`) };
  if (reach.kind === 'workspace' ? operates(actor, reach.workspaceId) : actor.workspaceId === undefined)
    return { ok: true };
  return {
    ok: false,
    error: new UserError(
      'NotAllowed',
      reach.kind === 'everyone'
        ? `${what} acts on every server this bot serves, so only its operators may use it`
        : `${what} acts on another workspace than yours; only its operators may change it`,
    ),
  };
}
