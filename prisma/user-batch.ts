/**
 * `ensureUser` for many users in one transaction: one read for all of them, one insert for the new ones, an update
 * only where the display name changed. A burst of first-time users (a bot just added to a large server) otherwise
 * costs one write transaction each, and on SQLite every submit waits behind all of them. The read and the insert
 * return whole rows, so no third statement reads them back.
 */
import { randomUUID } from 'node:crypto';
import { findUsers, insertUsers, type Provider, userFromRaw } from './bulk.ts';
import { type Tx, toUser, type UserRow } from './rows.ts';
import type { EnsureUserInput, UserRecord } from './types.ts';

export async function ensureUsersBatch(
  tx: Tx,
  provider: Provider,
  inputs: readonly EnsureUserInput[],
  now: Date,
): Promise<UserRecord[]> {
  const keyOf = (user: { platform: string; externalId: string }) => `${user.platform}\u0000${user.externalId}`;
  // The last display name sent wins, as it would when the upserts ran one after another.
  const wanted = new Map(inputs.map((input) => [keyOf(input), input]));
  const rows = new Map<string, UserRow>();
  for (const row of await findUsers(tx, provider, [...wanted.values()])) rows.set(keyOf(row), userFromRaw(row));
  // In id order, as every batch takes its row locks: two bot processes renaming the same users cannot deadlock.
  for (const row of [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const input = wanted.get(keyOf(row));
    if (input !== undefined && input.displayName !== row.displayName) {
      await tx.user.update({ where: { id: row.id }, data: { displayName: input.displayName } });
      rows.set(keyOf(row), { ...row, displayName: input.displayName });
    }
  }
  const missing = [...wanted.values()]
    .filter((input) => !rows.has(keyOf(input)))
    .map((input) => ({ ...input, id: randomUUID() }));
  if (missing.length > 0)
    for (const row of await insertUsers(tx, provider, missing, now)) rows.set(keyOf(row), userFromRaw(row));
  return inputs.map((input) => {
    const row = rows.get(keyOf(input));
    if (row === undefined) throw new Error(`ensureUser: ${input.platform} user ${input.externalId} was not written`);
    return toUser(row);
  });
}
