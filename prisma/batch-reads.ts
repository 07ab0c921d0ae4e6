/**
 * The reads of a reservation batch as a few raw statements over one JSON list parameter each (`json_each` on SQLite,
 * `jsonb_array_elements_text` on PostgreSQL), so a statement's text is the same whatever the batch size and a batch of
 * 200 costs as many statements as a batch of one. Measured at 200 concurrent submits (docs/benchmarks.md, service):
 * the model API's `findMany`/`groupBy` for these reads took ~11 ms of a ~33 ms batch, most of it Prisma building and
 * mapping full rows the decision never looks at; these read only the columns it needs.
 *
 * Each lock is also the read of the rows it locks (`UPDATE … RETURNING`, `SELECT … FOR UPDATE`), taken in id order,
 * workspaces before users, the order every writer of the store uses; the usage is read after both.
 */
import type { Provider } from './bulk.ts';
import { nextUtcMidnight } from './quota.ts';
import type { Tx } from './rows.ts';
import { IN_FLIGHT_STATUSES } from './types.ts';

/** The statement fragment that turns parameter `n` (a JSON array of strings) into a one-column list. */
const list = (provider: Provider, n: number) =>
  provider === 'sqlite' ? `(SELECT value FROM json_each(?${n}))` : `(SELECT jsonb_array_elements_text($${n}::jsonb))`;

/** The DateTime parameter `n` as each database compares it (SQLite: Prisma's ISO text with `+00:00`). */
const at = (provider: Provider, n: number) => (provider === 'sqlite' ? `?${n}` : `$${n}::timestamp(3)`);
const timeParam = (provider: Provider, when: Date) =>
  provider === 'sqlite' ? when.toISOString().replace('Z', '+00:00') : when.toISOString();

const inFlightList = IN_FLIGHT_STATUSES.map((status) => `'${status}'`).join(', ');

export interface LockedUser {
  id: string;
  banned: boolean;
  banReason: string | null;
  dailyGpuSeconds: number | null;
  maxQueuedJobs: number | null;
}

export interface LockedWorkspace {
  id: string;
  dailyBudgetSeconds: number | null;
  userDailyGpuSeconds: number;
  userMaxQueuedJobs: number;
}

const userColumns = '"id", "banned", "banReason", "dailyGpuSeconds", "maxQueuedJobs"';
const workspaceColumns = '"id", "dailyBudgetSeconds", "userDailyGpuSeconds", "userMaxQueuedJobs"';

/**
 * Locks these workspaces (see the header) and returns the columns a reservation decides on. On SQLite this is the
 * batch's first write, so it also takes the database's write lock before anything is read.
 */
export function lockWorkspaces(tx: Tx, provider: Provider, ids: string[]): Promise<LockedWorkspace[]> {
  const bump = `UPDATE "Workspace" SET "lockVersion" = "lockVersion" + 1 WHERE "id" IN`;
  const sql =
    provider === 'sqlite'
      ? `${bump} ${list(provider, 1)} RETURNING ${workspaceColumns}`
      : `${bump} (SELECT "id" FROM "Workspace" WHERE "id" IN ${list(provider, 1)} ORDER BY "id" FOR UPDATE)
         RETURNING ${workspaceColumns}`;
  return tx.$queryRawUnsafe<LockedWorkspace[]>(sql, JSON.stringify(ids));
}

/**
 * Locks these users after their workspaces and returns what a reservation decides on. PostgreSQL: `FOR UPDATE`, in id
 * order — the lock every other writer's `UPDATE` of the row waits for, without writing a new row version of 200 users
 * (it took 6.5 ms a burst as an UPDATE). SQLite: the write lock taken by `lockWorkspaces` already excludes every
 * other writer, so a plain read.
 */
export async function lockUsers(tx: Tx, provider: Provider, ids: string[]): Promise<LockedUser[]> {
  const rows = await tx.$queryRawUnsafe<LockedUser[]>(
    `SELECT ${userColumns} FROM "User" WHERE "id" IN ${list(provider, 1)}${provider === 'sqlite' ? '' : ' ORDER BY "id" FOR UPDATE'}`,
    JSON.stringify(ids),
  );
  // SQLite hands a Boolean column back as it declared it; normalised so a 0/1 can never read as "banned".
  return rows.map((row) => ({ ...row, banned: row.banned === true || (row.banned as unknown) === 1 }));
}

/** Which of these request keys already have a job (usually none: a retried interaction). */
export async function takenRequestKeys(tx: Tx, provider: Provider, keys: string[]): Promise<string[]> {
  const rows = await tx.$queryRawUnsafe<{ requestKey: string }[]>(
    `SELECT "requestKey" FROM "Job" WHERE "requestKey" IN ${list(provider, 1)}`,
    JSON.stringify(keys),
  );
  return rows.map((row) => row.requestKey);
}

/** What the users and workspaces of a batch hold and have been charged, keyed as `reserveBatch` reads it. */
export interface BatchUsage {
  /** `u:<userId>` / `w:<workspaceId>` → seconds reserved by jobs in flight, and how many. */
  held: Map<string, { reservedSeconds: number; queued: number }>;
  /** `<day ms>:u:<userId>` / `<day ms>:w:<workspaceId>` → seconds charged that UTC day. */
  charged: Map<string, number>;
}

/**
 * In-flight reservations and each day's charges of these users and of the workspaces that have a budget (the only
 * ones a reservation checks), in one statement: a UNION of one arm per side and day (a batch spans two days only
 * across midnight). Each arm probes its index once per id (PostgreSQL: `LATERAL`; SQLite: a correlated join driven by
 * the id list), so its cost follows the batch, not the queue: an `IN` list let PostgreSQL's planner scan every job in
 * flight (18,000 in a long benchmark, 9.6 ms a batch) whenever its statistics were stale.
 */
export async function batchUsage(
  tx: Tx,
  provider: Provider,
  userIds: string[],
  workspaceIds: string[],
  days: number[],
): Promise<BatchUsage> {
  const params: unknown[] = [];
  /** A parameter's number (PostgreSQL must see every one it is sent used). */
  const param = (value: unknown) => params.push(value);
  const users = userIds.length > 0 ? param(JSON.stringify(userIds)) : 0;
  const spaces = workspaceIds.length > 0 ? param(JSON.stringify(workspaceIds)) : 0;
  const arms: string[] = [];
  /** One arm: `aggregate` over `table` rows of each id in list `n`, tagged `tag`. */
  const arm = (tag: string, n: number, table: string, column: string, aggregate: string, where: string) =>
    provider === 'sqlite'
      ? `SELECT '${tag}' AS "tag", ids.value AS "key", ${aggregate} FROM json_each(?${n}) ids
         JOIN "${table}" t ON t."${column}" = ids.value AND ${where} GROUP BY ids.value`
      : `SELECT '${tag}' AS "tag", ids.id AS "key", a."seconds", a."count"
         FROM jsonb_array_elements_text($${n}::jsonb) AS ids(id)
         CROSS JOIN LATERAL (SELECT ${aggregate} FROM "${table}" t WHERE t."${column}" = ids.id AND ${where}) a
         WHERE a."count" > 0`;
  const held = 'SUM(t."reservedSeconds") AS "seconds", COUNT(*) AS "count"';
  const inFlight = `t."status" IN (${inFlightList})`;
  if (users > 0) arms.push(arm('u', users, 'Job', 'userId', held, inFlight));
  if (spaces > 0) arms.push(arm('w', spaces, 'Job', 'workspaceId', held, inFlight));
  for (const day of days) {
    const from = param(timeParam(provider, new Date(day)));
    const to = param(timeParam(provider, nextUtcMidnight(new Date(day))));
    const charged = `t."kind" = 'charge' AND t."at" >= ${at(provider, from)} AND t."at" < ${at(provider, to)}`;
    const sum = 'SUM(t."seconds") AS "seconds", COUNT(*) AS "count"';
    if (users > 0) arms.push(arm(`${day}:u`, users, 'UsageLedger', 'userId', sum, charged));
    if (spaces > 0) arms.push(arm(`${day}:w`, spaces, 'UsageLedger', 'workspaceId', sum, charged));
  }
  const usage: BatchUsage = { held: new Map(), charged: new Map() };
  if (arms.length === 0) return usage;
  const rows = await tx.$queryRawUnsafe<{ tag: string; key: string; seconds: unknown; count: unknown }[]>(
    arms.join('\nUNION ALL\n'),
    ...params,
  );
  for (const row of rows) {
    // PostgreSQL's SUM and COUNT are bigint; quotas are far below 2^53.
    const seconds = Number(row.seconds ?? 0);
    if (row.tag === 'u' || row.tag === 'w')
      usage.held.set(`${row.tag}:${row.key}`, { reservedSeconds: seconds, queued: Number(row.count) });
    else usage.charged.set(`${row.tag}:${row.key}`, seconds);
  }
  return usage;
}
