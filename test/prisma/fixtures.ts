import { randomUUID } from 'node:crypto';
import type { JsonObject, NewClip, ReserveInput, Store, Task } from '../../prisma/store.ts';

/** A workspace and user of their own, so tests sharing one database never see each other's rows. */
export async function newTenant(store: Store, platform: 'discord' | 'slack' | 'local' = 'discord') {
  const workspace = await store.ensureWorkspace({ platform, externalId: `ws-${randomUUID()}`, name: 'Test server' });
  const user = await store.ensureUser({ platform, externalId: `user-${randomUUID()}`, displayName: 'Tester' });
  return { workspace, user };
}

export function reserveInput(
  tenant: { workspace: { id: string }; user: { id: string } },
  overrides: Partial<ReserveInput> & { now: Date },
): ReserveInput {
  const parameters: JsonObject = { prompt: 'a hummingbird at red flowers', frames: 21, seed: 7 };
  return {
    requestKey: `req-${randomUUID()}`,
    userId: tenant.user.id,
    workspaceId: tenant.workspace.id,
    task: 't2v' satisfies Task,
    parameters,
    estimatedSeconds: 10,
    origin: { channelId: 'c1', messageId: 'm1' },
    ...overrides,
  };
}

export function clipOf(overrides: Partial<NewClip> = {}): NewClip {
  return {
    mp4Path: `clips/${randomUUID()}.mp4`,
    latentsPath: `latents/${randomUUID()}.bin`,
    frames: 81,
    width: 832,
    height: 480,
    fps: 16,
    sizeBytes: 1_234_567,
    seed: 2 ** 40 + 3,
    ...overrides,
  };
}

/** The UTC instant `iso` (e.g. '2031-05-06T12:00:00Z'). */
export function at(iso: string): Date {
  return new Date(iso);
}
