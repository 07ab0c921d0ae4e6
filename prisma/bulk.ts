/**
 * The batch writes of group commit as single statements over one JSON parameter (`json_each` on SQLite,
 * `jsonb_to_recordset` on PostgreSQL). Prisma's `createMany` costs about 0.7 ms of CPU per row in its query
 * interpreter (200 reservations: ~150 ms for the jobs alone, measured, docs/benchmarks.md); these cost a few ms per
 * batch. Values are written as Prisma writes them: SQLite DateTime as ISO text with `+00:00`, JSON as the text of
 * `JSON.stringify` (passed as a string, so SQLite never re-renders a float), PostgreSQL enums and jsonb by cast.
 */
import type { Tx, UserRow } from './rows.ts';
import type { JsonObject } from './types.ts';

export type Provider = 'sqlite' | 'postgresql';

/** The DateTime text Prisma's SQLite adapter writes (and compares as text in range queries). */
const sqliteTime = (at: Date) => at.toISOString().replace('Z', '+00:00');
const time = (provider: Provider, at: Date) => (provider === 'sqlite' ? sqliteTime(at) : at.toISOString());

export interface NewReservation {
  id: string;
  requestKey: string;
  userId: string;
  workspaceId: string;
  /** The database's spelling (`start_end`). */
  task: string;
  parameters: JsonObject;
  origin: JsonObject;
  seconds: number;
  at: Date;
}

/** Each reservation's job (queued), its first event and its `reserve` ledger row. */
export async function insertReservations(tx: Tx, provider: Provider, rows: readonly NewReservation[]): Promise<void> {
  const json = JSON.stringify(
    rows.map((row) => ({
      id: row.id,
      requestKey: row.requestKey,
      userId: row.userId,
      workspaceId: row.workspaceId,
      task: row.task,
      parameters: JSON.stringify(row.parameters),
      origin: JSON.stringify(row.origin),
      seconds: row.seconds,
      at: time(provider, row.at),
    })),
  );
  if (provider === 'sqlite') {
    const field = (name: string) => `json_extract(value, '$.${name}')`;
    await tx.$executeRawUnsafe(
      `INSERT INTO "Job" ("id", "requestKey", "userId", "workspaceId", "task", "parameters", "status", "estimatedSeconds", "reservedSeconds", "origin", "createdAt")
       SELECT ${['id', 'requestKey', 'userId', 'workspaceId', 'task', 'parameters'].map(field).join(', ')}, 'queued',
              ${field('seconds')}, ${field('seconds')}, ${field('origin')}, ${field('at')} FROM json_each(?)`,
      json,
    );
    await tx.$executeRawUnsafe(
      `INSERT INTO "JobEvent" ("jobId", "status", "at", "detail") SELECT ${field('id')}, 'queued', ${field('at')}, NULL FROM json_each(?)`,
      json,
    );
    await tx.$executeRawUnsafe(
      `INSERT INTO "UsageLedger" ("userId", "workspaceId", "jobId", "kind", "seconds", "at")
       SELECT ${field('userId')}, ${field('workspaceId')}, ${field('id')}, 'reserve', ${field('seconds')}, ${field('at')} FROM json_each(?)`,
      json,
    );
    return;
  }
  // PostgreSQL: the three inserts as one statement (data-modifying CTEs), so the batch's JSON crosses the socket and
  // is parsed once, not three times; the foreign keys of the event and ledger rows are checked at the statement's
  // end, when the job rows exist.
  await tx.$executeRawUnsafe(
    `WITH x AS MATERIALIZED (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(id text, "requestKey" text, "userId" text, "workspaceId" text,
                                                       task text, parameters text, origin text, seconds int, at text)),
     jobs AS (
       INSERT INTO "Job" ("id", "requestKey", "userId", "workspaceId", "task", "parameters", "status", "estimatedSeconds", "reservedSeconds", "origin", "createdAt")
       SELECT x.id, x."requestKey", x."userId", x."workspaceId", x.task::"Task", x.parameters::jsonb, 'queued'::"JobStatus",
              x.seconds, x.seconds, x.origin::jsonb, x.at::timestamp(3) FROM x
       RETURNING "id"),
     events AS (
       INSERT INTO "JobEvent" ("jobId", "status", "at", "detail")
       SELECT x.id, 'queued'::"JobStatus", x.at::timestamp(3), NULL FROM x)
     INSERT INTO "UsageLedger" ("userId", "workspaceId", "jobId", "kind", "seconds", "at")
     SELECT x."userId", x."workspaceId", x.id, 'reserve'::"LedgerKind", x.seconds, x.at::timestamp(3) FROM x`,
    json,
  );
}

export interface UserKey {
  platform: string;
  externalId: string;
}

/** The columns of a user record, as `findUsers` and `insertUsers` return them. */
const userColumns = (alias: string) =>
  [
    'id',
    'platform',
    'externalId',
    'displayName',
    'banned',
    'banReason',
    'dailyGpuSeconds',
    'maxQueuedJobs',
    'createdAt',
  ]
    .map((column) => `${alias}"${column}"`)
    .join(', ');

/** The users that exist among these keys, whole. */
export function findUsers(tx: Tx, provider: Provider, keys: readonly UserKey[]): Promise<UserRow[]> {
  const json = JSON.stringify(keys.map(({ platform, externalId }) => ({ platform, externalId })));
  return provider === 'sqlite'
    ? tx.$queryRawUnsafe(
        `SELECT ${userColumns('u.')} FROM json_each(?) j JOIN "User" u
         ON u."platform" = json_extract(j.value, '$.platform') AND u."externalId" = json_extract(j.value, '$.externalId')`,
        json,
      )
    : tx.$queryRawUnsafe(
        `SELECT ${userColumns('u.')}
         FROM jsonb_to_recordset($1::jsonb) AS x(platform text, "externalId" text)
         JOIN "User" u ON u."platform" = x.platform::"Platform" AND u."externalId" = x."externalId"`,
        json,
      );
}

/** New users, with the ids given; the rows as written (the schema's defaults filled in). */
export function insertUsers(
  tx: Tx,
  provider: Provider,
  users: readonly (UserKey & { id: string; displayName: string })[],
  at: Date,
): Promise<UserRow[]> {
  const stamp = time(provider, at);
  const json = JSON.stringify(users.map((user) => ({ ...user, at: stamp })));
  if (provider === 'sqlite') {
    const field = (name: string) => `json_extract(value, '$.${name}')`;
    return tx.$queryRawUnsafe(
      `INSERT INTO "User" ("id", "platform", "externalId", "displayName", "createdAt", "updatedAt")
       SELECT ${['id', 'platform', 'externalId', 'displayName', 'at', 'at'].map(field).join(', ')} FROM json_each(?)
       RETURNING ${userColumns('')}`,
      json,
    );
  }
  return tx.$queryRawUnsafe(
    `INSERT INTO "User" ("id", "platform", "externalId", "displayName", "createdAt", "updatedAt")
     SELECT x.id, x.platform::"Platform", x."externalId", x."displayName", x.at::timestamp(3), x.at::timestamp(3)
     FROM jsonb_to_recordset($1::jsonb) AS x(id text, platform text, "externalId" text, "displayName" text, at text)
     RETURNING ${userColumns('')}`,
    json,
  );
}

/** A user row read by raw SQL as the model API gives it (SQLite may hand a Boolean back as 0/1). */
export const userFromRaw = (row: UserRow): UserRow => ({
  ...row,
  banned: row.banned === true || (row.banned as unknown) === 1,
});
