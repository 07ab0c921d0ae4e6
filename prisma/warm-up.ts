/**
 * The store's share of a bot's start-up warm-up: the statements of one burst of `size` submits (first-time users,
 * the same users again, their reservations, a request-key lookup), run once inside a transaction that is then
 * rolled back, so nothing of it stays. A bot that has just started otherwise answers its first burst at about twice
 * the latency of the next one (measured, docs/benchmarks.md, service): V8 has not yet optimised the batch code and
 * the driver has not yet prepared these statements.
 */
import { randomUUID } from 'node:crypto';
import type { Provider } from './bulk.ts';
import { reserveBatch } from './reserve-batch.ts';
import { type Tx, withClip } from './rows.ts';
import { ensureUsersBatch } from './user-batch.ts';

/** Thrown to end the warm-up's transaction: the only way to roll back an interactive Prisma transaction. */
class RolledBack extends Error {}

export async function warmUpBatches(
  transaction: (run: (tx: Tx) => Promise<void>) => Promise<void>,
  provider: Provider,
  size: number,
): Promise<void> {
  if (size <= 0) return;
  try {
    await transaction(async (tx) => {
      const now = new Date();
      const tag = `warm-up:${randomUUID()}`;
      // The upsert `ensureWorkspace` runs (Prisma compiles each query shape the first time it meets it).
      const workspace = await tx.workspace.upsert({
        where: { platform_externalId: { platform: 'local', externalId: tag } },
        create: { platform: 'local', externalId: tag, name: 'warm-up' },
        update: { name: 'warm-up' },
      });
      const people = Array.from({ length: size }, (_, i) => ({
        platform: 'local' as const,
        externalId: `${tag}:${i}`,
        displayName: 'warm-up',
      }));
      const users = await ensureUsersBatch(tx, provider, people, now);
      await ensureUsersBatch(tx, provider, people, now);
      const keys = users.map((_, i) => `${tag}:${i}`);
      const results = await reserveBatch(
        tx,
        provider,
        users.map((user, i) => ({
          requestKey: keys[i] as string,
          userId: user.id,
          workspaceId: workspace.id,
          task: 't2v',
          parameters: { task: 't2v', prompt: 'warm-up', seed: i },
          estimatedSeconds: 1,
          origin: { platform: 'local', ephemeral: false, workspaceId: workspace.id, userId: user.id },
          now,
          prompt: 'warm-up',
        })),
      );
      // Every one must have taken the path a real submit takes, or this warmed the wrong code.
      const refused = results.find((result) => result instanceof Error || !result.ok || !result.created);
      if (refused !== undefined) throw new Error(`warm-up: a reservation was not made: ${JSON.stringify(refused)}`);
      await tx.job.findMany({ where: { requestKey: { in: keys } }, include: withClip });
      throw new RolledBack();
    });
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
  }
}
