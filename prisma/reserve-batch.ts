/**
 * Many reservations in one transaction, each decided exactly as `reserve` alone decides it (the same checks in the
 * same order: request key, ban, blocklist, queued cap, user day, workspace day), in arrival order, against the usage
 * the ones before it in the batch left. Set-based: a fixed number of statements per batch whatever its size, because
 * at 200 concurrent submits a dozen statements per reservation cost more than the whole answer may take.
 *
 * Exactness holds as for one reservation: every workspace and user row of the batch is locked first (PostgreSQL:
 * row locks taken in id order, workspaces before users, the order every single-row transaction of the store uses
 * too, so batches of several bot processes and the store's other writers cannot deadlock; SQLite: the first write
 * takes the database's write lock), and the usage is read after the locks are held (prisma/batch-reads.ts).
 */
import { randomUUID } from 'node:crypto';
import { batchUsage, lockUsers, lockWorkspaces, takenRequestKeys } from './batch-reads.ts';
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
import { promptOf, type Tx, taskToDb, toJob, toRule, withClip } from './rows.ts';
import type { JobRecord, ReserveInput, ReserveResult } from './types.ts';

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

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
  // Workspaces before users, as every transaction of the store takes them; the rows as they are under the locks.
  const workspaces = await lockWorkspaces(tx, provider, workspaceIds);
  const users = await lockUsers(tx, provider, userIds);
  const days = [...new Set(live.map((input) => dayOf(input.now)))];
  const [taken, rules, { held, charged }] = await Promise.all([
    takenRequestKeys(
      tx,
      provider,
      live.map((input) => input.requestKey),
    ),
    tx.blockRule.findMany({
      where: { workspaceId: { in: workspaceIds } },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    // Only workspaces with a budget are checked against their day (decide, below).
    batchUsage(
      tx,
      provider,
      userIds,
      workspaces.filter((row) => row.dailyBudgetSeconds !== null).map((row) => row.id),
      days,
    ),
  ]);
  // A retried interaction's job, read whole only when there is one.
  const existing =
    taken.length === 0 ? [] : await tx.job.findMany({ where: { requestKey: { in: taken } }, include: withClip });
  // What the rows say now; each reservation accepted below adds to it, so the next one sees it.
  const jobsByKey = new Map<string, JobRecord>(existing.map((row) => [row.requestKey, toJob(row)]));
  const userById = new Map(users.map((row) => [row.id, row]));
  const workspaceById = new Map(workspaces.map((row) => [row.id, row]));
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
    // The record as the database gives it back, written out: its JSON is the input's own (JsonObject admits nothing
    // a trip through JSON would change). A copy through JSON.stringify, then a 23-key spread of a stand-in row into
    // toJob, cost ~20 µs a reservation (V8 builds such a spread the slow way), 4–14 ms of a burst of 200.
    const job: JobRecord = {
      id,
      requestKey: input.requestKey,
      userId,
      workspaceId,
      task: input.task,
      parameters: input.parameters,
      status: 'queued',
      estimatedSeconds: needed,
      reservedSeconds: needed,
      chargedSeconds: 0,
      attempts: 0,
      workerId: null,
      error: null,
      origin: input.origin,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      deletedAt: null,
      clip: null,
    };
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
