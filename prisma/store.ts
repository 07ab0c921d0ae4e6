/**
 * The persistence layer: quotas, jobs, clips and history on SQLite (embedded default) or PostgreSQL.
 *
 * `createPrismaStore(url)` picks the generated client and driver adapter from the URL scheme; `migrateToLatest(url)`
 * applies pending migrations (call it once at start-up). Reservation atomicity: every quota-changing transaction
 * first bumps `lockVersion` on the workspace row, then on the user row (always in that order), which takes their
 * write locks: a PostgreSQL row lock, the SQLite database write lock. See docs/database.md.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PrismaLibSql } from '@prisma/adapter-libsql';
import { PrismaPg } from '@prisma/adapter-pg';
import { isUnavailable, StoreUnavailableError } from './errors.ts';
import { PrismaClient as PostgresClient } from './generated/postgres/client.ts';
import { type Prisma, PrismaClient as SqliteClient } from './generated/sqlite/client.ts';
import { groupCommit } from './group-commit.ts';
import {
  bannedMessage,
  blockedMessage,
  matchBlockRule,
  nextUtcMidnight,
  queuedCapMessage,
  userDailyMessage,
  utcDayStart,
  validateRule,
  wholeSeconds,
  workspaceDailyMessage,
} from './quota.ts';
import { reserveBatch } from './reserve-batch.ts';
import {
  inFlight,
  isRecordNotFound,
  isUniqueViolation,
  type JobRow,
  promptOf,
  type Tx,
  taskToDb,
  toClip,
  toJob,
  toRule,
  toUser,
  toWorkspace,
  withClip,
} from './rows.ts';
import {
  type Activity,
  type AddBlockRuleResult,
  type EnsureUserInput,
  type FinishResult,
  IN_FLIGHT_STATUSES,
  type JobEventRecord,
  type JobRecord,
  type JobStatus,
  type QuotaSnapshot,
  type ReserveInput,
  type ReserveResult,
  type Store,
  type UserRecord,
  type UserUsage,
} from './types.ts';
import { type DatabaseTarget, libsqlUrl, parseDatabaseUrl, pgConfig, redactUrl } from './url.ts';
import { ensureUsersBatch } from './user-batch.ts';
import { warmUpBatches } from './warm-up.ts';

export { StoreUnavailableError } from './errors.ts';
export { migrateToLatest } from './migrate.ts';
export type * from './types.ts';
export { DEFAULT_DATABASE_URL, parseDatabaseUrl } from './url.ts';

export interface PrismaStoreOptions {
  /** PostgreSQL: connections in this store's pool (node-postgres default 10). */
  poolSize?: number;
  /** PostgreSQL: how long to wait for a new connection before giving up (ms). */
  connectTimeoutMs?: number;
  /** SQLite: how long to wait for another process's write lock (ms). */
  busyTimeoutMs?: number;
  /** How long a transaction may wait to start (the pool, or SQLite's one connection), and may run (ms). */
  transactionTimeoutMs?: number;
}

/** The store typed against the SQLite client; the PostgreSQL client has the same model API. */
type Db = SqliteClient;

function createClient(target: DatabaseTarget, options: PrismaStoreOptions): Db {
  if (target.provider === 'sqlite') {
    // libSQL applies `timeout` (SQLite's busy timeout) to every connection it opens, including the fresh one it opens
    // after each transaction; without it a second process's write fails at once with SQLITE_BUSY.
    const adapter = new PrismaLibSql({ url: libsqlUrl(target.path), timeout: options.busyTimeoutMs ?? 5_000 });
    return new SqliteClient({ adapter });
  }
  const config = pgConfig(target.url, {
    ...(options.poolSize === undefined ? {} : { max: options.poolSize }),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
  });
  // Same model API, other provider: the cast keeps one set of types for the store (see docs/database.md).
  return new PostgresClient({ adapter: new PrismaPg(config) }) as unknown as Db;
}

function limit(value: number | null | undefined, what: string): number | null | undefined {
  if (value === null || value === undefined) return value;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be an integer ≥ 0, got ${value}`);
  return value;
}

/**
 * Takes the write locks that serialise quota decisions: the workspace row, then the user row. PostgreSQL: row locks
 * held to the end of the transaction (other transactions touching these rows wait). SQLite: the first write takes
 * the database's write lock. Returns false when a row does not exist.
 */
async function lockRows(tx: Tx, workspaceId: string, userId: string): Promise<boolean> {
  const workspaces =
    await tx.$executeRaw`UPDATE "Workspace" SET "lockVersion" = "lockVersion" + 1 WHERE "id" = ${workspaceId}`;
  const users = await tx.$executeRaw`UPDATE "User" SET "lockVersion" = "lockVersion" + 1 WHERE "id" = ${userId}`;
  return workspaces === 1 && users === 1;
}

interface Usage {
  usedSeconds: number;
  reservedSeconds: number;
  queued: number;
}

async function userUsage(tx: Tx, userId: string, now: Date): Promise<Usage> {
  const day = { gte: utcDayStart(now), lt: nextUtcMidnight(now) };
  const [charged, held] = await Promise.all([
    tx.usageLedger.aggregate({ _sum: { seconds: true }, where: { userId, kind: 'charge', at: day } }),
    tx.job.aggregate({ _sum: { reservedSeconds: true }, _count: { _all: true }, where: { userId, status: inFlight } }),
  ]);
  return {
    usedSeconds: charged._sum.seconds ?? 0,
    reservedSeconds: held._sum.reservedSeconds ?? 0,
    queued: held._count._all,
  };
}

async function workspaceUsage(tx: Tx, workspaceId: string, now: Date): Promise<Usage> {
  const day = { gte: utcDayStart(now), lt: nextUtcMidnight(now) };
  const [charged, held] = await Promise.all([
    tx.usageLedger.aggregate({ _sum: { seconds: true }, where: { workspaceId, kind: 'charge', at: day } }),
    tx.job.aggregate({
      _sum: { reservedSeconds: true },
      _count: { _all: true },
      where: { workspaceId, status: inFlight },
    }),
  ]);
  return {
    usedSeconds: charged._sum.seconds ?? 0,
    reservedSeconds: held._sum.reservedSeconds ?? 0,
    queued: held._count._all,
  };
}

/**
 * Runs an upsert once more when it lost an insert race (two first requests for the same user or workspace at once):
 * the second try finds the row and updates it.
 */
async function retryInsertRace<TResult>(upsert: () => Promise<TResult>): Promise<TResult> {
  try {
    return await upsert();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return upsert();
  }
}

/**
 * Opens a store on `url`: `file:…` (SQLite, e.g. the default `file:./data/pusa.db`) or `postgres(ql)://…`.
 * Connects lazily; run `migrateToLatest(url)` first.
 */
export function createPrismaStore(url: string, options: PrismaStoreOptions = {}): Store {
  const target = parseDatabaseUrl(url);
  const client = createClient(target, options);
  const transactionTimeoutMs = options.transactionTimeoutMs ?? 20_000;
  const txOptions = { maxWait: transactionTimeoutMs, timeout: transactionTimeoutMs };
  let ready: Promise<void> | undefined;

  /** SQLite: create the file's folder and switch to WAL (readers never wait for the writer). Retried after a failure. */
  const prepare = (): Promise<void> => {
    ready ??= (async () => {
      if (target.provider !== 'sqlite') return;
      if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
      await client.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    })().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };

  /** Runs an operation, turning connection failures into StoreUnavailableError. */
  const guard = async <TResult>(operation: string, run: () => Promise<TResult>): Promise<TResult> => {
    try {
      await prepare();
      return await run();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      if (isUnavailable(error)) {
        const reason = error instanceof Error ? error.message.trim().split('\n').at(-1) : String(error);
        throw new StoreUnavailableError(
          `The database (${target.provider}, ${redactUrl(url)}) is unavailable for ${operation}: ${reason}`,
          { cause: error },
        );
      }
      throw error;
    }
  };

  const transaction = <TResult>(run: (tx: Tx) => Promise<TResult>): Promise<TResult> =>
    client.$transaction(run, txOptions);

  /**
   * Reads: on SQLite inside a transaction too, because the adapter has one connection and a statement issued while
   * another caller's transaction is open would run inside it (and see its uncommitted rows).
   */
  const read = <TResult>(run: (db: Tx) => Promise<TResult>): Promise<TResult> =>
    target.provider === 'sqlite' ? transaction(run) : run(client);

  const findJob = (db: Tx, id: string) => db.job.findUnique({ where: { id }, include: withClip });

  /**
   * Moves a job in flight to a final state, atomically: the conditional UPDATE lets exactly one caller win (the
   * others wait for the row lock, then match nothing). The winner runs `settle` in the same transaction.
   */
  const finish = (
    operation: string,
    jobId: string,
    status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled'>,
    now: Date,
    data: Prisma.JobUpdateManyMutationInput,
    detail: string | null,
    settle: (tx: Tx, job: JobRow) => Promise<void>,
  ): Promise<FinishResult> =>
    guard(operation, () =>
      transaction(async (tx) => {
        const before = await findJob(tx, jobId);
        if (before === null) return { outcome: 'not-found', job: null };
        if (before.status === status) return { outcome: 'duplicate', job: toJob(before) };
        if (before.status !== 'queued' && before.status !== 'running') {
          return { outcome: 'already-finished', job: toJob(before) };
        }
        await lockRows(tx, before.workspaceId, before.userId);
        const moved = await tx.job.updateMany({
          where: { id: jobId, status: inFlight },
          data: { ...data, status, finishedAt: now },
        });
        if (moved.count === 0) {
          const after = await findJob(tx, jobId);
          if (after === null) return { outcome: 'not-found', job: null };
          return { outcome: after.status === status ? 'duplicate' : 'already-finished', job: toJob(after) };
        }
        await settle(tx, before);
        await tx.usageLedger.create({
          data: {
            userId: before.userId,
            workspaceId: before.workspaceId,
            jobId,
            kind: 'release',
            seconds: before.reservedSeconds,
            at: now,
          },
        });
        await tx.jobEvent.create({ data: { jobId, status, at: now, detail } });
        const after = await findJob(tx, jobId);
        return { outcome: 'applied', job: after === null ? null : toJob(after) };
      }),
    );

  const reserveOnce = (input: ReserveInput): Promise<ReserveResult> =>
    transaction(async (tx): Promise<ReserveResult> => {
      const { now, userId, workspaceId } = input;
      if (!(await lockRows(tx, workspaceId, userId))) {
        throw new Error(`reserve: unknown workspace ${workspaceId} or user ${userId}`);
      }
      const existing = await tx.job.findUnique({ where: { requestKey: input.requestKey }, include: withClip });
      if (existing !== null) return { ok: true, job: toJob(existing), created: false };

      const [user, workspace] = await Promise.all([
        tx.user.findUniqueOrThrow({ where: { id: userId } }),
        tx.workspace.findUniqueOrThrow({ where: { id: workspaceId } }),
      ]);
      if (user.banned) return { ok: false, reason: 'banned', message: bannedMessage(user.banReason) };

      const prompt = promptOf(input);
      if (prompt !== undefined) {
        const rules = await tx.blockRule.findMany({
          where: { workspaceId },
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        });
        const rule = matchBlockRule(prompt, rules);
        if (rule !== undefined) {
          return { ok: false, reason: 'blocked-prompt', message: blockedMessage(rule), rule: toRule(rule) };
        }
      }

      const needed = wholeSeconds(input.estimatedSeconds, 'estimatedSeconds');
      const resetsAt = nextUtcMidnight(now);
      const mine = await userUsage(tx, userId, now);
      const maxQueued = user.maxQueuedJobs ?? workspace.userMaxQueuedJobs;
      if (mine.queued >= maxQueued) {
        return { ok: false, reason: 'queued-cap', message: queuedCapMessage(mine.queued, maxQueued) };
      }
      const userLimit = user.dailyGpuSeconds ?? workspace.userDailyGpuSeconds;
      if (mine.usedSeconds + mine.reservedSeconds + needed > userLimit) {
        const numbers = { neededSeconds: needed, limitSeconds: userLimit, ...mine };
        return { ok: false, reason: 'user-daily', message: userDailyMessage(numbers, now, resetsAt), resetsAt };
      }
      if (workspace.dailyBudgetSeconds !== null) {
        const theirs = await workspaceUsage(tx, workspaceId, now);
        if (theirs.usedSeconds + theirs.reservedSeconds + needed > workspace.dailyBudgetSeconds) {
          const numbers = { neededSeconds: needed, limitSeconds: workspace.dailyBudgetSeconds, ...theirs };
          return {
            ok: false,
            reason: 'workspace-daily',
            message: workspaceDailyMessage(numbers, now, resetsAt),
            resetsAt,
          };
        }
      }

      const job = await tx.job.create({
        data: {
          requestKey: input.requestKey,
          userId,
          workspaceId,
          task: taskToDb(input.task),
          parameters: input.parameters as Prisma.InputJsonObject,
          status: 'queued',
          estimatedSeconds: needed,
          reservedSeconds: needed,
          origin: input.origin as Prisma.InputJsonObject,
          createdAt: now,
          events: { create: { status: 'queued', at: now, detail: null } },
          ledger: { create: { userId, workspaceId, kind: 'reserve', seconds: needed, at: now } },
        },
        include: withClip,
      });
      const usage = { ...mine, reservedSeconds: mine.reservedSeconds + needed, limitSeconds: userLimit };
      return { ok: true, job: toJob(job), created: true, usage };
    });

  /** One reservation on its own: the path a batch falls back to when another process wrote one of its keys. */
  const reserveAlone = (input: ReserveInput): Promise<ReserveResult> =>
    guard('reserve', async () => {
      try {
        return await reserveOnce(input);
      } catch (error) {
        // The same request key from another user at the same moment: the unique index decides, return the winner.
        if (!isUniqueViolation(error)) throw error;
        const existing = await read((db) =>
          db.job.findUnique({ where: { requestKey: input.requestKey }, include: withClip }),
        );
        if (existing === null) throw error;
        return { ok: true, job: toJob(existing), created: false };
      }
    });

  /**
   * Every reservation goes through group commit (prisma/group-commit.ts, prisma/reserve-batch.ts): those waiting at
   * one moment share one transaction, each decided exactly. A batch that lost a request-key race to another process
   * is undone whole and its reservations made one by one, each then finding the other's row.
   */
  const reserveGrouped = groupCommit<ReserveInput, ReserveResult>((inputs) =>
    guard('reserve', async () => {
      try {
        return await transaction((tx) => reserveBatch(tx, target.provider, inputs));
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        return Promise.all(inputs.map((input) => reserveAlone(input).catch((failure: unknown) => failure as Error)));
      }
    }),
  );

  const ensureUserAlone = (input: EnsureUserInput): Promise<UserRecord> =>
    guard('ensureUser', async () => {
      const where = { platform_externalId: { platform: input.platform, externalId: input.externalId } };
      return toUser(
        await retryInsertRace(() =>
          transaction((tx) =>
            tx.user.upsert({
              where,
              create: { platform: input.platform, externalId: input.externalId, displayName: input.displayName },
              update: { displayName: input.displayName },
            }),
          ),
        ),
      );
    });

  /**
   * First-time users of one moment share one transaction (prisma/user-batch.ts). A batch that lost an insert race to
   * another process is undone whole and its users ensured one by one (each then finds the other's row).
   */
  const ensureUserGrouped = groupCommit<EnsureUserInput, UserRecord>((inputs) =>
    guard('ensureUser', async () => {
      try {
        return await transaction((tx) => ensureUsersBatch(tx, target.provider, inputs, new Date()));
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        return Promise.all(inputs.map((input) => ensureUserAlone(input).catch((failure: unknown) => failure as Error)));
      }
    }),
  );

  /** Request keys looked up at one moment share one query (on SQLite one read transaction, not one each). */
  const jobsByRequestKey = groupCommit<string, JobRecord | null>((keys) =>
    guard('jobByRequestKey', () =>
      read(async (db) => {
        const rows = await db.job.findMany({ where: { requestKey: { in: [...new Set(keys)] } }, include: withClip });
        const byKey = new Map(rows.map((row) => [row.requestKey, toJob(row)]));
        return keys.map((key) => byKey.get(key) ?? null);
      }),
    ),
  );

  return {
    ensureUser: (input) => ensureUserGrouped(input),

    ensureWorkspace: (input) =>
      guard('ensureWorkspace', async () => {
        const where = { platform_externalId: { platform: input.platform, externalId: input.externalId } };
        return toWorkspace(
          await retryInsertRace(() =>
            transaction((tx) =>
              tx.workspace.upsert({
                where,
                create: { platform: input.platform, externalId: input.externalId, name: input.name },
                update: { name: input.name },
              }),
            ),
          ),
        );
      }),

    listWorkspaces: () =>
      guard('listWorkspaces', () =>
        read(async (db) =>
          // Sorted here: PostgreSQL orders enums by declaration, SQLite (text) alphabetically.
          (await db.workspace.findMany())
            .map(toWorkspace)
            .sort(
              (a, b) => a.platform.localeCompare(b.platform) || a.name.localeCompare(b.name) || (a.id < b.id ? -1 : 1),
            ),
        ),
      ),

    workspace: (id) =>
      guard('workspace', () =>
        read(async (db) => {
          const row = await db.workspace.findUnique({ where: { id } });
          return row === null ? null : toWorkspace(row);
        }),
      ),

    findUser: (platform, externalId) =>
      guard('findUser', () =>
        read(async (db) => {
          const row = await db.user.findUnique({ where: { platform_externalId: { platform, externalId } } });
          return row === null ? null : toUser(row);
        }),
      ),

    reserve: (input) => reserveGrouped(input),

    markRunning: (jobId, { workerId, now }) =>
      guard('markRunning', () =>
        transaction(async (tx) => {
          const moved = await tx.job.updateMany({
            where: { id: jobId, status: inFlight },
            data: { status: 'running', attempts: { increment: 1 }, startedAt: now, workerId },
          });
          if (moved.count === 0) return false;
          const job = await tx.job.findUniqueOrThrow({ where: { id: jobId }, select: { attempts: true } });
          await tx.jobEvent.create({
            data: { jobId, status: 'running', at: now, detail: `worker ${workerId}, attempt ${job.attempts}` },
          });
          return true;
        }),
      ),

    complete: (jobId, { chargedSeconds, clip, now }) => {
      const charged = wholeSeconds(chargedSeconds, 'chargedSeconds');
      return finish(
        'complete',
        jobId,
        'succeeded',
        now,
        { chargedSeconds: charged, errorCode: null, errorMessage: null },
        `charged ${charged} s`,
        async (tx, job) => {
          await tx.clip.create({
            data: {
              jobId,
              userId: job.userId,
              parentClipId: clip.parentClipId ?? null,
              secondParentClipId: clip.secondParentClipId ?? null,
              mp4Path: clip.mp4Path,
              latentsPath: clip.latentsPath ?? null,
              frames: clip.frames,
              width: clip.width,
              height: clip.height,
              fps: clip.fps,
              bytes: clip.sizeBytes,
              seed: BigInt(clip.seed),
              createdAt: now,
            },
          });
          await tx.usageLedger.create({
            data: {
              userId: job.userId,
              workspaceId: job.workspaceId,
              jobId,
              kind: 'charge',
              seconds: charged,
              at: now,
            },
          });
        },
      );
    },

    fail: (jobId, { code, message, now }) =>
      finish(
        'fail',
        jobId,
        'failed',
        now,
        { errorCode: code, errorMessage: message, chargedSeconds: 0 },
        `${code}: ${message}`,
        async () => {},
      ),

    cancel: (jobId, now) => finish('cancel', jobId, 'cancelled', now, { chargedSeconds: 0 }, null, async () => {}),

    refund: (jobId, { code, message, now }) =>
      guard('refund', () =>
        transaction(async (tx): Promise<FinishResult> => {
          const before = await findJob(tx, jobId);
          if (before === null) return { outcome: 'not-found', job: null };
          const refunded = before.status === 'failed' && before.errorCode === code;
          if (before.status !== 'succeeded')
            return { outcome: refunded ? 'duplicate' : 'already-finished', job: toJob(before) };
          await lockRows(tx, before.workspaceId, before.userId);
          // Conditional, like every finishing call: of two concurrent refunds exactly one gives the seconds back.
          const moved = await tx.job.updateMany({
            where: { id: jobId, status: 'succeeded' },
            data: { status: 'failed', chargedSeconds: 0, errorCode: code, errorMessage: message, finishedAt: now },
          });
          if (moved.count === 0) {
            const after = await findJob(tx, jobId);
            return { outcome: 'duplicate', job: after === null ? null : toJob(after) };
          }
          // Dated at the charge it cancels: a day's usage nets to what it would have been, never below zero.
          const charge = await tx.usageLedger.findFirst({ where: { jobId, kind: 'charge' }, orderBy: { at: 'asc' } });
          if (before.chargedSeconds > 0)
            await tx.usageLedger.create({
              data: {
                userId: before.userId,
                workspaceId: before.workspaceId,
                jobId,
                kind: 'charge',
                seconds: -before.chargedSeconds,
                at: charge?.at ?? now,
              },
            });
          await tx.clip.deleteMany({ where: { jobId } });
          await tx.jobEvent.create({
            data: {
              jobId,
              status: 'failed',
              at: now,
              detail: `refunded ${before.chargedSeconds} s: ${code}: ${message}`,
            },
          });
          const after = await findJob(tx, jobId);
          return { outcome: 'applied', job: after === null ? null : toJob(after) };
        }),
      ),

    requeue: (jobId, reason, now = new Date()) =>
      guard('requeue', () =>
        transaction(async (tx) => {
          const moved = await tx.job.updateMany({
            where: { id: jobId, status: 'running' },
            data: { status: 'queued', workerId: null },
          });
          if (moved.count === 1) {
            await tx.jobEvent.create({ data: { jobId, status: 'queued', at: now, detail: reason } });
            return true;
          }
          const job = await tx.job.findUnique({ where: { id: jobId }, select: { status: true } });
          return job?.status === 'queued';
        }),
      ),

    quota: (userId, workspaceId, now) =>
      guard('quota', () =>
        read(async (db): Promise<QuotaSnapshot> => {
          const [user, workspace, mine, theirs] = await Promise.all([
            db.user.findUnique({ where: { id: userId } }),
            db.workspace.findUnique({ where: { id: workspaceId } }),
            userUsage(db, userId, now),
            workspaceUsage(db, workspaceId, now),
          ]);
          if (user === null || workspace === null) {
            throw new Error(`quota: unknown workspace ${workspaceId} or user ${userId}`);
          }
          const limitSeconds = user.dailyGpuSeconds ?? workspace.userDailyGpuSeconds;
          const budget = workspace.dailyBudgetSeconds;
          return {
            usedSeconds: mine.usedSeconds,
            reservedSeconds: mine.reservedSeconds,
            limitSeconds,
            remainingSeconds: Math.max(0, limitSeconds - mine.usedSeconds - mine.reservedSeconds),
            queued: mine.queued,
            maxQueued: user.maxQueuedJobs ?? workspace.userMaxQueuedJobs,
            resetsAt: nextUtcMidnight(now),
            workspace: {
              usedSeconds: theirs.usedSeconds,
              reservedSeconds: theirs.reservedSeconds,
              budgetSeconds: budget,
              remainingSeconds:
                budget === null ? null : Math.max(0, budget - theirs.usedSeconds - theirs.reservedSeconds),
            },
          };
        }),
      ),

    history: (userId, { limit: count, before }) =>
      guard('history', () =>
        read(async (db) => {
          const rows = await db.job.findMany({
            where: { userId, deletedAt: null, ...(before === undefined ? {} : { createdAt: { lt: before } }) },
            orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
            take: count,
            include: withClip,
          });
          return rows.map(toJob);
        }),
      ),

    deleteResult: (jobId, now) =>
      guard('deleteResult', () =>
        transaction(async (tx) => {
          // The conditional update lets one of two racing deletes win; the loser sees count 0 and deletes nothing.
          // A job in flight could still produce a clip after the delete: only finished jobs can be deleted.
          const marked = await tx.job.updateMany({
            where: { id: jobId, deletedAt: null, status: { notIn: [...IN_FLIGHT_STATUSES] } },
            data: { deletedAt: now },
          });
          if (marked.count === 0) return null;
          const clip = await tx.clip.findUnique({ where: { jobId } });
          if (clip !== null) await tx.clip.delete({ where: { id: clip.id } });
          const job = await tx.job.findUniqueOrThrow({ where: { id: jobId }, select: { status: true } });
          await tx.jobEvent.create({ data: { jobId, status: job.status, at: now, detail: 'result deleted' } });
          return { clip: clip === null ? null : toClip(clip) };
        }),
      ),

    job: (id) =>
      guard('job', () =>
        read(async (db) => {
          const row = await findJob(db, id);
          return row === null ? null : toJob(row);
        }),
      ),

    jobByRequestKey: (requestKey) => jobsByRequestKey(requestKey),

    inFlightJobs: ({ createdBefore, limit: count }) =>
      guard('inFlightJobs', () =>
        read(async (db) => {
          const rows = await db.job.findMany({
            where: { status: inFlight, createdAt: { lt: createdBefore } },
            orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
            take: count,
            include: withClip,
          });
          return rows.map(toJob);
        }),
      ),

    jobEvents: (jobId) =>
      guard('jobEvents', () =>
        read(async (db): Promise<JobEventRecord[]> => {
          const rows = await db.jobEvent.findMany({ where: { jobId }, orderBy: { id: 'asc' } });
          return rows.map((row) => ({ status: row.status, at: row.at, detail: row.detail }));
        }),
      ),

    clip: (id) =>
      guard('clip', () =>
        read(async (db) => {
          const row = await db.clip.findUnique({ where: { id } });
          return row === null ? null : toClip(row);
        }),
      ),

    recentClips: (userId, count) =>
      guard('recentClips', () =>
        read(async (db) => {
          const rows = await db.clip.findMany({
            where: { userId },
            orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
            take: count,
          });
          return rows.map(toClip);
        }),
      ),

    setUserLimits: (userId, limits) =>
      guard('setUserLimits', async () => {
        const data: Prisma.UserUpdateInput = {};
        const daily = limit(limits.dailyGpuSeconds, 'dailyGpuSeconds');
        const queued = limit(limits.maxQueuedJobs, 'maxQueuedJobs');
        if (daily !== undefined) data.dailyGpuSeconds = daily;
        if (queued !== undefined) data.maxQueuedJobs = queued;
        try {
          return toUser(await transaction((tx) => tx.user.update({ where: { id: userId }, data })));
        } catch (error) {
          if (isRecordNotFound(error)) return null;
          throw error;
        }
      }),

    setWorkspaceLimits: (workspaceId, limits) =>
      guard('setWorkspaceLimits', async () => {
        const data: Prisma.WorkspaceUpdateInput = {};
        const budget = limit(limits.dailyBudgetSeconds, 'dailyBudgetSeconds');
        const daily = limit(limits.userDailyGpuSeconds, 'userDailyGpuSeconds');
        const queued = limit(limits.userMaxQueuedJobs, 'userMaxQueuedJobs');
        if (budget !== undefined) data.dailyBudgetSeconds = budget;
        if (daily !== undefined && daily !== null) data.userDailyGpuSeconds = daily;
        if (queued !== undefined && queued !== null) data.userMaxQueuedJobs = queued;
        try {
          return toWorkspace(await transaction((tx) => tx.workspace.update({ where: { id: workspaceId }, data })));
        } catch (error) {
          if (isRecordNotFound(error)) return null;
          throw error;
        }
      }),

    ban: (userId, reason) =>
      guard('ban', async () => {
        try {
          const row = await transaction((tx) =>
            tx.user.update({ where: { id: userId }, data: { banned: true, banReason: reason } }),
          );
          return toUser(row);
        } catch (error) {
          if (isRecordNotFound(error)) return null;
          throw error;
        }
      }),

    unban: (userId) =>
      guard('unban', async () => {
        try {
          const row = await transaction((tx) =>
            tx.user.update({ where: { id: userId }, data: { banned: false, banReason: null } }),
          );
          return toUser(row);
        } catch (error) {
          if (isRecordNotFound(error)) return null;
          throw error;
        }
      }),

    addBlockRule: (workspaceId, rule) =>
      guard('addBlockRule', async (): Promise<AddBlockRuleResult> => {
        const problem = validateRule(rule.kind, rule.pattern);
        if (problem !== null) return { ok: false, reason: 'invalid-pattern', message: problem };
        const row = await transaction((tx) =>
          tx.blockRule.create({
            data: {
              workspaceId,
              pattern: rule.pattern.trim(),
              kind: rule.kind,
              createdBy: rule.createdBy,
              createdAt: rule.now ?? new Date(),
            },
          }),
        );
        return { ok: true, rule: toRule(row) };
      }),

    removeBlockRule: (workspaceId, ruleId) =>
      guard('removeBlockRule', async () => {
        const removed = await transaction((tx) => tx.blockRule.deleteMany({ where: { id: ruleId, workspaceId } }));
        return removed.count > 0;
      }),

    listBlockRules: (workspaceId) =>
      guard('listBlockRules', () =>
        read(async (db) => {
          const rows = await db.blockRule.findMany({
            where: { workspaceId },
            orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
          });
          return rows.map(toRule);
        }),
      ),

    usageByUser: (workspaceId, since) =>
      guard('usageByUser', () =>
        read(async (db): Promise<UserUsage[]> => {
          const where = { workspaceId, kind: 'charge' as const, at: { gte: since } };
          const [all, refunds] = await Promise.all([
            db.usageLedger.groupBy({ by: ['userId'], where, _sum: { seconds: true }, _count: { _all: true } }),
            // A refund (store.refund) is a negative charge: it takes its job out of the count as well as the sum.
            db.usageLedger.groupBy({ by: ['userId'], where: { ...where, seconds: { lt: 0 } }, _count: { _all: true } }),
          ]);
          const refunded = new Map(refunds.map((group) => [group.userId, group._count._all]));
          const groups = all
            .map((group) => ({ ...group, jobs: group._count._all - 2 * (refunded.get(group.userId) ?? 0) }))
            .filter((group) => group.jobs > 0);
          const users = await db.user.findMany({ where: { id: { in: groups.map((group) => group.userId) } } });
          const byId = new Map(users.map((user) => [user.id, user]));
          return groups
            .flatMap((group) => {
              const user = byId.get(group.userId);
              if (user === undefined) return [];
              return [
                {
                  userId: user.id,
                  platform: user.platform,
                  externalId: user.externalId,
                  displayName: user.displayName,
                  chargedSeconds: group._sum.seconds ?? 0,
                  jobs: group.jobs,
                },
              ];
            })
            .sort((a, b) => b.chargedSeconds - a.chargedSeconds || a.displayName.localeCompare(b.displayName));
        }),
      ),

    activity: ({ since, until, limit: count }) =>
      guard('activity', () =>
        read(async (db): Promise<Activity> => {
          const [jobs, charges] = await Promise.all([
            db.job.findMany({
              where: { createdAt: { lt: until }, OR: [{ finishedAt: null }, { finishedAt: { gte: since } }] },
              orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
              take: count + 1,
              select: {
                id: true,
                userId: true,
                workspaceId: true,
                status: true,
                workerId: true,
                createdAt: true,
                startedAt: true,
                finishedAt: true,
              },
            }),
            db.usageLedger.findMany({
              where: { kind: 'charge', at: { gte: since, lt: until } },
              orderBy: [{ at: 'asc' }, { id: 'asc' }],
              take: count + 1,
              select: {
                userId: true,
                workspaceId: true,
                seconds: true,
                at: true,
                user: { select: { displayName: true } },
                workspace: { select: { name: true } },
              },
            }),
          ]);
          return {
            jobs: jobs.slice(0, count),
            charges: charges.slice(0, count).map((c) => ({
              userId: c.userId,
              userName: c.user.displayName,
              workspaceId: c.workspaceId,
              workspaceName: c.workspace.name,
              seconds: c.seconds,
              at: c.at,
            })),
            truncated: jobs.length > count || charges.length > count,
          };
        }),
      ),

    ping: () =>
      guard('ping', async () => {
        await client.$queryRawUnsafe('SELECT 1');
      }),

    // PostgreSQL: on several pool connections at once, each a server backend whose caches (catalog, relations,
    // their foreign-key triggers) are filled by its first statements; the first burst then meets warm ones.
    warmUp: (size) =>
      guard('warmUp', async () => {
        const connections = target.provider === 'sqlite' ? 1 : Math.min(options.poolSize ?? 10, 4);
        await Promise.all(Array.from({ length: connections }, () => warmUpBatches(transaction, target.provider, size)));
      }),

    close: async () => {
      await client.$disconnect();
    },
  };
}
