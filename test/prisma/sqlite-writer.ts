/**
 * One of several processes writing to one SQLite file at once (test/prisma/concurrency.test.ts): opens its own store,
 * says `ready`, waits for `go` on stdin so that every process starts together, submits `count` reservations at once
 * and prints one JSON line: how many were accepted, the refusal reasons, and any error thrown.
 *
 * argv: url userId workspaceId count
 */
import { createInterface } from 'node:readline';
import { createPrismaStore } from '../../prisma/store.ts';
import { at, reserveInput } from './fixtures.ts';

const [url, userId, workspaceId, count] = process.argv.slice(2);
if (url === undefined || userId === undefined || workspaceId === undefined || count === undefined) {
  throw new Error('usage: sqlite-writer.ts url userId workspaceId count');
}

const store = createPrismaStore(url);
// Open the connection (and check WAL) before the start line, so every process contends only in `reserve`.
await store.ping();
const tenant = { user: { id: userId }, workspace: { id: workspaceId } };
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) if (line === 'go') break;
lines.close();

const now = at('2031-05-06T12:00:00Z');
const settled = await Promise.allSettled(
  Array.from({ length: Number(count) }, () => store.reserve(reserveInput(tenant, { now }))),
);
const accepted = settled.filter((result) => result.status === 'fulfilled' && result.value.ok).length;
const refused = settled.flatMap((result) =>
  result.status === 'fulfilled' && !result.value.ok ? [result.value.reason] : [],
);
const errors = settled.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
process.stdout.write(`${JSON.stringify({ accepted, refused, errors })}\n`);
await store.close();
