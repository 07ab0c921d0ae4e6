/**
 * The store's public types: what the front-end core, the worker and the admin commands see. Database rows never
 * leave the store; these plain records do. GPU time is in whole seconds.
 */

export type Platform = 'discord' | 'slack' | 'local';
export type Task = 't2v' | 'i2v' | 'start-end' | 'keyframes' | 'extend' | 'transition';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type BlockRuleKind = 'word' | 'regex';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Jobs in these states hold a reservation and count against `maxQueuedJobs`. */
export const IN_FLIGHT_STATUSES = ['queued', 'running'] as const satisfies readonly JobStatus[];

export interface UserRecord {
  id: string;
  platform: Platform;
  externalId: string;
  displayName: string;
  banned: boolean;
  banReason: string | null;
  /** Override of the workspace default, or null. */
  dailyGpuSeconds: number | null;
  /** Override of the workspace default, or null. */
  maxQueuedJobs: number | null;
  createdAt: Date;
}

export interface WorkspaceRecord {
  id: string;
  platform: Platform;
  externalId: string;
  name: string;
  /** GPU seconds per UTC day for the whole workspace; null = no workspace budget. */
  dailyBudgetSeconds: number | null;
  /** Default daily GPU seconds per user. */
  userDailyGpuSeconds: number;
  /** Default cap on a user's jobs in flight (queued or running). */
  userMaxQueuedJobs: number;
  createdAt: Date;
}

export interface ClipRecord {
  id: string;
  jobId: string;
  userId: string;
  /** The clip this one extends, or the first clip of a transition. */
  parentClipId: string | null;
  /** The second clip of a transition. */
  secondParentClipId: string | null;
  /** Relative to the artifact store's root. */
  mp4Path: string;
  /** Relative to the artifact store's root; null when the latents were not kept. */
  latentsPath: string | null;
  frames: number;
  width: number;
  height: number;
  fps: number;
  sizeBytes: number;
  seed: number;
  createdAt: Date;
}

export interface JobError {
  code: string;
  message: string;
}

export interface JobRecord {
  id: string;
  requestKey: string;
  userId: string;
  workspaceId: string;
  task: Task;
  parameters: JsonObject;
  status: JobStatus;
  estimatedSeconds: number;
  reservedSeconds: number;
  chargedSeconds: number;
  attempts: number;
  workerId: string | null;
  error: JobError | null;
  origin: JsonObject;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** When its owner deleted the result (the clip is then gone); null otherwise. */
  deletedAt: Date | null;
  /** The result, once the job succeeded (null again once deleted). */
  clip: ClipRecord | null;
}

export interface JobEventRecord {
  status: JobStatus;
  at: Date;
  detail: string | null;
}

export interface BlockRuleRecord {
  id: string;
  workspaceId: string;
  pattern: string;
  kind: BlockRuleKind;
  createdBy: string;
  createdAt: Date;
}

export interface EnsureUserInput {
  platform: Platform;
  externalId: string;
  displayName: string;
}

export interface EnsureWorkspaceInput {
  platform: Platform;
  externalId: string;
  name: string;
}

export interface ReserveInput {
  /** Idempotency key: the same request delivered twice (a retried interaction) gives one job. */
  requestKey: string;
  userId: string;
  workspaceId: string;
  task: Task;
  /** The full, validated request parameters. */
  parameters: JsonObject;
  /** GPU seconds from the pack's cost model; rounded up, reserved until the job finishes. */
  estimatedSeconds: number;
  /** Platform channel, message and interaction ids, for delivery. */
  origin: JsonObject;
  now: Date;
  /** The text checked against the blocklist; defaults to `parameters.prompt` when that is a string. */
  prompt?: string;
}

export type RefusalReason = 'banned' | 'user-daily' | 'workspace-daily' | 'queued-cap' | 'blocked-prompt';

/** A user's GPU seconds of the day as a reservation left them. */
export type ReservedUsage = Pick<QuotaSnapshot, 'usedSeconds' | 'reservedSeconds' | 'limitSeconds'>;

export type ReserveResult =
  | {
      ok: true;
      job: JobRecord;
      /** False: the request key existed, nothing was reserved. */
      created: boolean;
      /** With `created`: the user's day right after this reservation (the queue's fairness priority reads it). */
      usage?: ReservedUsage;
    }
  | {
      ok: false;
      reason: RefusalReason;
      /** Safe to show the user: the limit, and when it resets. */
      message: string;
      /** When the refused quota resets (the next UTC midnight), for the daily limits. */
      resetsAt?: Date;
      /** The rule that matched, for `blocked-prompt`. */
      rule?: BlockRuleRecord;
    };

export interface NewClip {
  mp4Path: string;
  latentsPath?: string | null;
  frames: number;
  width: number;
  height: number;
  fps: number;
  sizeBytes: number;
  seed: number;
  parentClipId?: string | null;
  secondParentClipId?: string | null;
}

/**
 * What a finishing call did. `applied`: this call finished the job. `duplicate`: an earlier identical call did
 * (idempotent, nothing charged or released again). `already-finished`: the job had ended another way (e.g.
 * completed after a cancel); nothing changed. `not-found`: no such job.
 */
export type FinishOutcome = 'applied' | 'duplicate' | 'already-finished' | 'not-found';

export interface FinishResult {
  outcome: FinishOutcome;
  job: JobRecord | null;
}

export interface QuotaSnapshot {
  /** GPU seconds charged today (UTC) to the user, across workspaces. */
  usedSeconds: number;
  /** GPU seconds held by the user's jobs in flight. */
  reservedSeconds: number;
  /** The user's daily allowance: their override, else the workspace default. */
  limitSeconds: number;
  /** limit − used − reserved, never below 0. */
  remainingSeconds: number;
  /** The user's jobs in flight (queued or running). */
  queued: number;
  maxQueued: number;
  /** The next UTC midnight. */
  resetsAt: Date;
  workspace: {
    usedSeconds: number;
    reservedSeconds: number;
    budgetSeconds: number | null;
    remainingSeconds: number | null;
  };
}

export interface UserLimits {
  /** null removes the override. */
  dailyGpuSeconds?: number | null;
  maxQueuedJobs?: number | null;
}

export interface WorkspaceLimits {
  /** null removes the workspace budget. */
  dailyBudgetSeconds?: number | null;
  userDailyGpuSeconds?: number;
  userMaxQueuedJobs?: number;
}

export interface NewBlockRule {
  pattern: string;
  kind: BlockRuleKind;
  createdBy: string;
  now?: Date;
}

export type AddBlockRuleResult =
  | { ok: true; rule: BlockRuleRecord }
  | { ok: false; reason: 'invalid-pattern'; message: string };

export interface UserUsage {
  userId: string;
  platform: Platform;
  externalId: string;
  displayName: string;
  chargedSeconds: number;
  /** Jobs charged in the period. */
  jobs: number;
}

/** A job's life as the dashboard's charts draw it: when it was queued, taken by a worker and ended. */
export interface JobSpan {
  id: string;
  userId: string;
  workspaceId: string;
  status: JobStatus;
  /** The worker that ran it last (a requeued job keeps only its last run). */
  workerId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** One charge in the ledger (a refund is a negative one), with the names the charts label it by. */
export interface ChargeRecord {
  userId: string;
  userName: string;
  workspaceId: string;
  workspaceName: string;
  seconds: number;
  at: Date;
}

export interface Activity {
  /** Jobs whose life overlaps the window: created before its end, not finished before its start; oldest first. */
  jobs: JobSpan[];
  /** Charges made in the window, oldest first. */
  charges: ChargeRecord[];
  /** True when `limit` cut either list short (the charts then say so). */
  truncated: boolean;
}

/**
 * Quotas and history. Every method may throw `StoreUnavailableError` when the database cannot be reached (answer
 * "try again"); domain refusals are result values. Unknown user or workspace ids are programming errors and throw.
 */
export interface Store {
  ensureUser(input: EnsureUserInput): Promise<UserRecord>;
  ensureWorkspace(input: EnsureWorkspaceInput): Promise<WorkspaceRecord>;
  /** Every workspace (Discord guilds, Slack teams, the playground), by platform then name: the dashboard's list. */
  listWorkspaces(): Promise<WorkspaceRecord[]>;
  workspace(id: string): Promise<WorkspaceRecord | null>;
  /** A user by platform id, without creating one (ensureUser would also overwrite the display name). */
  findUser(platform: Platform, externalId: string): Promise<UserRecord | null>;

  /** Checks ban, blocklist, queued cap, user and workspace daily budgets, then records the job; atomic. */
  reserve(input: ReserveInput): Promise<ReserveResult>;
  /** A worker took the job: running, attempts + 1. False when the job is unknown or already finished. */
  markRunning(jobId: string, input: { workerId: string; now: Date }): Promise<boolean>;
  /** Success: charge the GPU seconds used, release the reservation, record the clip. Idempotent. */
  complete(jobId: string, input: { chargedSeconds: number; clip: NewClip; now: Date }): Promise<FinishResult>;
  /** Failure: release the reservation; a failed job costs nothing. Idempotent. */
  fail(jobId: string, input: { code: string; message: string; now: Date }): Promise<FinishResult>;
  /**
   * A job charged whose clip never reached its owner (its delivery gave up): failed, its charge given back and its
   * clip record removed (the caller deletes the files). The refund is a negative `charge` in the ledger, so every sum
   * of charges is the net. `already-finished` for a job that is not succeeded; idempotent.
   */
  refund(jobId: string, input: { code: string; message: string; now: Date }): Promise<FinishResult>;
  /** Cancelled by the user or an admin: release the reservation. Idempotent. */
  cancel(jobId: string, now: Date): Promise<FinishResult>;
  /** A worker died: back to queued, the reservation kept. False when the job is unknown or finished. */
  requeue(jobId: string, reason: string, now?: Date): Promise<boolean>;

  quota(userId: string, workspaceId: string, now: Date): Promise<QuotaSnapshot>;
  /**
   * Deletes a finished job's result: the clip row goes (its URL and Extend stop working), the job leaves history,
   * the GPU seconds charged stay charged. Returns the deleted clip (null for a job that ended without one), so the
   * caller can remove its files; null when the job is unknown, still in flight, or was deleted before.
   * Authorization is the caller's (the front-end core).
   */
  deleteResult(jobId: string, now: Date): Promise<{ clip: ClipRecord | null } | null>;
  /** The user's jobs that were not deleted, newest first; `before` pages by creation time. */
  history(userId: string, options: { limit: number; before?: Date }): Promise<JobRecord[]>;
  job(id: string): Promise<JobRecord | null>;
  jobByRequestKey(requestKey: string): Promise<JobRecord | null>;
  /**
   * Jobs in flight (queued or running) created before `createdBefore`, oldest first, across every workspace: what the
   * reconciler (bot/core/reconcile.ts) compares with the queue.
   */
  inFlightJobs(options: { createdBefore: Date; limit: number }): Promise<JobRecord[]>;
  /** The status history of a job, oldest first. */
  jobEvents(jobId: string): Promise<JobEventRecord[]>;
  clip(id: string): Promise<ClipRecord | null>;
  recentClips(userId: string, limit: number): Promise<ClipRecord[]>;

  setUserLimits(userId: string, limits: UserLimits): Promise<UserRecord | null>;
  setWorkspaceLimits(workspaceId: string, limits: WorkspaceLimits): Promise<WorkspaceRecord | null>;
  ban(userId: string, reason: string): Promise<UserRecord | null>;
  unban(userId: string): Promise<UserRecord | null>;
  addBlockRule(workspaceId: string, rule: NewBlockRule): Promise<AddBlockRuleResult>;
  removeBlockRule(workspaceId: string, ruleId: string): Promise<boolean>;
  listBlockRules(workspaceId: string): Promise<BlockRuleRecord[]>;
  /** GPU seconds charged per user of a workspace since `since`, largest first. */
  usageByUser(workspaceId: string, since: Date): Promise<UserUsage[]>;
  /** Every workspace's jobs and charges in [since, until), at most `limit` of each: the dashboard's charts. */
  activity(options: { since: Date; until: Date; limit: number }): Promise<Activity>;

  /** Health check: one round trip to the database. */
  ping(): Promise<void>;
  /**
   * Runs the statements of one burst of `size` submits once and rolls them back (prisma/warm-up.ts): called at start,
   * so the first burst after a restart is answered as fast as later ones. Leaves nothing behind.
   */
  warmUp(size: number): Promise<void>;
  close(): Promise<void>;
}
