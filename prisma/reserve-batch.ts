/**
 * Many reservations in one transaction, each decided exactly as `reserve` alone decides it (the same checks in the
 * same order: request key, ban, blocklist, queued cap, user day, workspace day), in arrival order, against the usage
 * the ones before it in the batch left. Set-based: a fixed number of statements per batch whatever its size, because
 * at 200 concurrent submits a dozen statements per reservation cost more than the whole answer may take.
 *
 * Exactness holds as for one reservation: every workspace and user row of the batch is locked first (PostgreSQL:
 * row locks taken in id order, workspaces before users, the order every single-row transaction of the store uses
 * too, so batches of several bot processes and the store's other writers cannot deadlock; SQLite: the first write
 * takes the database's write lock), and the usage is read after the locks are held.
 */
import { randomUUID } from 'node:crypto';
import { insertReservations, type NewReservation, type Provider } from './bulk.ts';
import {
  bannedMessage,
  blockedMessage,
  matchBlockRule,
  nextUtcMidnight,
  queuedCapMessage,
  userDailyMessage,
  utcDayStart,
  wholeSeconds,
  workspaceDailyMessage,
} from './quota.ts';
import { inFlight, type JobRow, promptOf, type Tx, taskToDb, toJob, toRule, withClip } from './rows.ts';
import type { JobRecord, ReserveInput, ReserveResult } from './types.ts';

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

/** Locks the rows of `table` with these ids, in id order; how many there were. */
function lockAll(tx: Tx, provider: Provider, table: 'Workspace' | 'User', ids: string[]): Promise<number> {
  // The table name is one of two literals, never input; the ids are bound parameters.
  const bump = `UPDATE "${table}" SET "lockVersion" = "lockVersion" + 1 WHERE "id" IN `;
  if (provider === 'sqlite') return tx.$executeRawUnsafe(`${bump}(${ids.map(() => '?').join(', ')})`, ...ids);
  const list = ids.map((_, i) => `$${i + 1}`).join(', ');
  return tx.$executeRawUnsafe(
    `${bump}(SELECT "id" FROM "${table}" WHERE "id" IN (${list}) ORDER BY "id" FOR UPDATE)`,
    ...ids,
  );
}

/** The day key of a reservation's `now`: daily charges count from that UTC midnight. */
const dayOf = (now: Date) => utcDayStart(now).getTime();

export async function reserveBatch(
  tx: Tx,
  provider: Provider,
  inputs: readonly ReserveInput[],
): Promise<(ReserveResult | Error)[]> {
  const results: (ReserveResult | Error | undefined)[] = inputs.map((input) => {
    try {
      wholeSeconds(input.estimatedSeconds, 'estimatedSeconds');
      return undefined;
    } catch (error) {
      return error as Error;
    }
  });
  const live = inputs.filter((_, i) => results[i] === undefined);
  if (live.length === 0) return results as Error[];

  const workspaceIds = sorted(live.map((input) => input.workspaceId));
  const userIds = sorted(live.map((input) => input.userId));
  await lockAll(tx, provider, 'Workspace', workspaceIds);
  await lockAll(tx, provider, 'User', userIds);
  const days = [...new Set(live.map((input) => dayOf(input.now)))];
  const chargedBetween = (day: number) => ({ gte: new Date(day), lt: nextUtcMidnight(new Date(day)) });
  const [existing, users, workspaces, rules, userHeld, workspaceHeld, userCharged, workspaceCharged] =
    await Promise.all([
      tx.job.findMany({ where: { requestKey: { in: live.map((input) => input.requestKey) } }, include: withClip }),
      tx.user.findMany({ where: { id: { in: userIds } } }),
      tx.workspace.findMany({ where: { id: { in: workspaceIds } } }),
      tx.blockRule.findMany({
        where: { workspaceId: { in: workspaceIds } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
      tx.job.groupBy({
        by: ['userId'],
        where: { userId: { in: userIds }, status: inFlight },
        _sum: { reservedSeconds: true },
        _count: { _all: true },
      }),
      tx.job.groupBy({
        by: ['workspaceId'],
        where: { workspaceId: { in: workspaceIds }, status: inFlight },
        _sum: { reservedSeconds: true },
        _count: { _all: true },
      }),
      Promise.all(
        days.map((day) =>
          tx.usageLedger.groupBy({
            by: ['userId'],
            where: { userId: { in: userIds }, kind: 'charge', at: chargedBetween(day) },
            _sum: { seconds: true },
          }),
        ),
      ),
      Promise.all(
        days.map((day) =>
          tx.usageLedger.groupBy({
            by: ['workspaceId'],
            where: { workspaceId: { in: workspaceIds }, kind: 'charge', at: chargedBetween(day) },
            _sum: { seconds: true },
          }),
        ),
      ),
    ]);
  // What the rows say now; each reservation accepted below adds to it, so the next one sees it.
  const jobsByKey = new Map<string, JobRecord>(existing.map((row) => [row.requestKey, toJob(row)]));
  const userById = new Map(users.map((row) => [row.id, row]));
  const workspaceById = new Map(workspaces.map((row) => [row.id, row]));
  const held = new Map<string, { reservedSeconds: number; queued: number }>();
  for (const row of userHeld)
    held.set(`u:${row.userId}`, { reservedSeconds: row._sum.reservedSeconds ?? 0, queued: row._count._all });
  for (const row of workspaceHeld)
    held.set(`w:${row.workspaceId}`, { reservedSeconds: row._sum.reservedSeconds ?? 0, queued: row._count._all });
  const charged = new Map<string, number>();
  for (const [i, day] of days.entries()) {
    for (const row of userCharged[i] ?? []) charged.set(`${day}:u:${row.userId}`, row._sum.seconds ?? 0);
    for (const row of workspaceCharged[i] ?? []) charged.set(`${day}:w:${row.workspaceId}`, row._sum.seconds ?? 0);
  }
  const usage = (key: string, day: number) => ({
    usedSeconds: charged.get(`${day}:${key}`) ?? 0,
    ...(held.get(key) ?? { reservedSeconds: 0, queued: 0 }),
  });

  const accepted: NewReservation[] = [];
  for (const [i, input] of inputs.entries()) {
    if (results[i] !== undefined) continue;
    results[i] = decide(input);
  }

  function decide(input: ReserveInput): ReserveResult | Error {
    const { now, userId, workspaceId } = input;
    const user = userById.get(userId);
    const workspace = workspaceById.get(workspaceId);
    if (user === undefined || workspace === undefined)
      return new Error(`reserve: unknown workspace ${workspaceId} or user ${userId}`);
    const seen = jobsByKey.get(input.requestKey);
    if (seen !== undefined) return { ok: true, job: seen, created: false };
    if (user.banned) return { ok: false, reason: 'banned', message: bannedMessage(user.banReason) };

    const prompt = promptOf(input);
    if (prompt !== undefined) {
      const rule = matchBlockRule(
        prompt,
        rules.filter((r) => r.workspaceId === workspaceId),
      );
      if (rule !== undefined)
        return { ok: false, reason: 'blocked-prompt', message: blockedMessage(rule), rule: toRule(rule) };
    }

    const needed = wholeSeconds(input.estimatedSeconds, 'estimatedSeconds');
    const resetsAt = nextUtcMidnight(now);
    const day = dayOf(now);
    const mine = usage(`u:${userId}`, day);
    const maxQueued = user.maxQueuedJobs ?? workspace.userMaxQueuedJobs;
    if (mine.queued >= maxQueued)
      return { ok: false, reason: 'queued-cap', message: queuedCapMessage(mine.queued, maxQueued) };
    const userLimit = user.dailyGpuSeconds ?? workspace.userDailyGpuSeconds;
    if (mine.usedSeconds + mine.reservedSeconds + needed > userLimit) {
      const numbers = { neededSeconds: needed, limitSeconds: userLimit, ...mine };
      return { ok: false, reason: 'user-daily', message: userDailyMessage(numbers, now, resetsAt), resetsAt };
    }
    if (workspace.dailyBudgetSeconds !== null) {
      const theirs = usage(`w:${workspaceId}`, day);
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

    for (const key of [`u:${userId}`, `w:${workspaceId}`]) {
      const before = held.get(key) ?? { reservedSeconds: 0, queued: 0 };
      held.set(key, { reservedSeconds: before.reservedSeconds + needed, queued: before.queued + 1 });
    }
    const id = randomUUID();
    const row = {
      id,
      requestKey: input.requestKey,
      userId,
      workspaceId,
      task: taskToDb(input.task),
      parameters: input.parameters,
      origin: input.origin,
      seconds: needed,
      at: now,
    };
    accepted.push(row);
    // The record as the database gives it back: JSON through JSON (undefined members dropped).
    const job = toJob({
      ...row,
      parameters: JSON.parse(JSON.stringify(row.parameters)),
      origin: JSON.parse(JSON.stringify(row.origin)),
      status: 'queued',
      estimatedSeconds: needed,
      reservedSeconds: needed,
      chargedSeconds: 0,
      attempts: 0,
      workerId: null,
      errorCode: null,
      errorMessage: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      deletedAt: null,
      clip: null,
    } as unknown as JobRow);
    jobsByKey.set(input.requestKey, job);
    return {
      ok: true,
      job,
      created: true,
      usage: { usedSeconds: mine.usedSeconds, reservedSeconds: mine.reservedSeconds + needed, limitSeconds: userLimit },
    };
  }

  if (accepted.length > 0) await insertReservations(tx, provider, accepted);
  return results as (ReserveResult | Error)[];
}
