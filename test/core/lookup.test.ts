import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../bot/core/access.ts';
import type { SubmitInput } from '../../bot/core/front-end.ts';
import { type Stack, sample, startStack } from '../service/stack.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const WORKSPACE = { platform: 'local' as const, externalId: 'tests', name: 'tests' };
let stack: Stack;
let n = 0;

beforeAll(async () => {
  // No workers: jobs stay queued, and the ones a test needs finished are finished in the store.
  stack = await startStack({ redisUrl: REDIS_URL });
  // Every test's jobs stay queued: room for all of them under the per-user cap.
  const { workspaceId } = await stack.service.frontEnd.identifyWorkspace(WORKSPACE);
  await stack.service.store.setWorkspaceLimits(workspaceId, { userMaxQueuedJobs: 50 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const core = () => stack.service.frontEnd;
const person = (name: string) => ({ platform: 'local' as const, externalId: name, displayName: name });
async function actorOf(name: string, channelId = 'c'): Promise<Actor> {
  return { ...(await core().identify({ user: person(name), workspace: WORKSPACE })), channelId };
}
async function submit(
  request: SubmitInput['request'],
  o: { user?: string; channelId?: string; ephemeral?: boolean } = {},
) {
  n += 1;
  const answer = await core().submit({
    requestKey: `lookup-${n}`,
    user: person(o.user ?? 'ada'),
    workspace: WORKSPACE,
    origin: { platform: 'local', channelId: o.channelId ?? 'c', ...(o.ephemeral ? { ephemeral: true } : {}) },
    request,
  });
  if (!answer.ok) throw answer.error;
  return answer.jobId;
}
/** Finishes a job in the store as a worker would, with a clip record (no file is needed to derive from it). */
async function finish(jobId: string) {
  const store = stack.service.store;
  await store.markRunning(jobId, { workerId: 'test', now: new Date() });
  await store.complete(jobId, {
    chargedSeconds: 1,
    clip: { mp4Path: `clips/${jobId}.mp4`, frames: 17, width: 64, height: 64, fps: 8, sizeBytes: 10, seed: 1 },
    now: new Date(),
  });
  const clip = (await store.job(jobId))?.clip;
  if (!clip) throw new Error('no clip');
  return clip.id;
}

describe('lookup: identity, Info, Extend, Re-roll and Remix in the core (real SQLite and Redis)', () => {
  it('identifies a requester once: the same ids on every call, the store rows', async () => {
    const first = await core().identify({ user: person('ids'), workspace: WORKSPACE });
    const again = await core().identify({ user: person('ids'), workspace: WORKSPACE });
    const row = await stack.service.store.findUser('local', 'ids');

    expect(again).toEqual(first);
    expect(row?.id).toBe(first.userId);
    expect((await core().identifyWorkspace(WORKSPACE)).workspaceId).toBe(first.workspaceId);
  });

  it('re-rolls an image job with its kept images, everything else as it was and a fresh seed', async () => {
    const png = await sample('yellow-star.png');
    const source = await submit({
      task: 'i2v',
      prompt: 'a yellow star moves up',
      steps: 2,
      frames: 17,
      seed: 7,
      noiseMultipliers: [0.3],
      images: [{ bytes: png, name: 'star.png' }],
    });

    const remade = await core().remake({ jobId: source }, await actorOf('ada'), { kind: 'reroll' });

    if (!remade.ok) throw remade.error;
    expect(remade).toMatchObject({ derivedFrom: source, private: false });
    expect(remade.request).toMatchObject({
      task: 'i2v',
      prompt: 'a yellow star moves up',
      steps: 2,
      frames: 17,
      noiseMultipliers: [0.3],
    });
    expect(remade.request.seed).not.toBe(7);
    expect(remade.request.images?.map((i) => [i.name, Buffer.compare(i.bytes, png)])).toEqual([['star.png', 0]]);
    // And the core takes it as a request of its own.
    const again = await submit(remade.request);
    expect((await stack.service.store.job(again))?.task).toBe('i2v');
  });

  it('remixes with a new prompt and the seed kept; a blank prompt keeps the old one', async () => {
    const source = await submit({
      task: 't2v',
      prompt: 'a red circle',
      steps: 2,
      frames: 17,
      seed: 42,
      size: [128, 128],
    });
    const by = await actorOf('ada');

    const remix = await core().remake({ jobId: source }, by, { kind: 'remix', prompt: 'a blue circle' });
    const blank = await core().remake({ jobId: source }, by, { kind: 'remix', prompt: '  ' });

    expect(remix).toMatchObject({
      ok: true,
      request: { prompt: 'a blue circle', seed: 42, steps: 2, frames: 17, size: [128, 128] },
    });
    expect(blank).toMatchObject({ ok: true, request: { prompt: 'a red circle', seed: 42 } });
  });

  it('says so when the kept images of an image job are gone', async () => {
    const source = await submit({
      task: 'i2v',
      prompt: 'a star',
      steps: 2,
      frames: 17,
      images: [{ bytes: await sample('yellow-star.png') }],
    });
    await rm(join(stack.service.artifacts.root, 'inputs', source), { recursive: true, force: true });

    const remade = await core().remake({ jobId: source }, await actorOf('ada'), { kind: 'reroll' });

    expect(remade).toMatchObject({
      ok: false,
      error: { code: 'NotFound', message: expect.stringMatching(/no longer kept/) },
    });
  });

  it('keeps a job to who may use it: another conversation, a private result, an unknown id', async () => {
    const shared = await submit({ task: 't2v', prompt: 'a public clip', steps: 2, frames: 17 }, { channelId: 'c-1' });
    const secret = await submit(
      { task: 't2v', prompt: 'a private clip', steps: 2, frames: 17 },
      { channelId: 'c-1', ephemeral: true },
    );

    const here = await core().info({ jobId: shared }, await actorOf('grace', 'c-1'));
    const elsewhere = await core().remake({ jobId: shared }, await actorOf('grace', 'c-2'), { kind: 'reroll' });
    const peek = await core().info({ jobId: secret }, await actorOf('grace', 'c-1'));
    const own = await core().remake({ jobId: secret }, await actorOf('ada', 'c-9'), { kind: 'reroll' });
    const unknown = await core().info({ jobId: 'no-such-job' }, await actorOf('ada'));

    expect(here).toMatchObject({ ok: true, job: { id: shared } });
    expect(elsewhere).toMatchObject({ ok: false, error: { message: expect.stringMatching(/another conversation/) } });
    expect(peek).toMatchObject({ ok: false, error: { message: expect.stringMatching(/private result/) } });
    expect(peek).not.toHaveProperty('job');
    expect(own).toMatchObject({ ok: true, private: true });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'NotFound' } });
  });

  it("extends a clip with its prompt, steps and frames; a new prompt and a command's options win", async () => {
    const source = await submit({ task: 't2v', prompt: 'a green square', steps: 3, frames: 17 });
    const clipId = await finish(source);
    const by = await actorOf('ada');

    const plain = await core().extendOf(clipId, by);
    const changed = await core().extendOf(clipId, by, { prompt: 'it turns', options: { steps: 4 } });
    const missing = await core().extendOf('no-such-clip', by);

    expect(plain).toMatchObject({
      ok: true,
      derivedFrom: source,
      request: { task: 'extend', prompt: 'a green square', steps: 3, frames: 17, clips: [{ clipId }] },
    });
    expect(changed).toMatchObject({ ok: true, request: { prompt: 'it turns', steps: 4, frames: 17 } });
    expect(missing).toMatchObject({ ok: false, error: { code: 'NotFound' } });
  });

  it('forgets the kept images when the result is deleted', async () => {
    const source = await submit({
      task: 'i2v',
      prompt: 'a star',
      steps: 2,
      frames: 17,
      images: [{ bytes: await sample('yellow-star.png') }],
    });
    const kept = join(stack.service.artifacts.root, 'inputs', source);
    expect(existsSync(kept)).toBe(true);
    await finish(source);

    const removed = await core().remove(source, await actorOf('ada'));

    expect(removed).toMatchObject({ ok: true });
    expect(existsSync(kept)).toBe(false);
  });

  it('routes a delivery by the stored origin and serves a clip to its owner or an operator only', async () => {
    const source = await submit({ task: 't2v', prompt: 'a routed clip', steps: 2, frames: 17 }, { channelId: 'c-7' });
    const clipId = await finish(source);

    expect(await core().postedAt(source)).toMatchObject({ origin: { channelId: 'c-7' }, prompt: 'a routed clip' });
    expect(await core().postedAt('no-such-job')).toBeNull();
    expect((await core().clipFor(clipId, { platform: 'local', externalId: 'ada' }))?.id).toBe(clipId);
    expect(await core().clipFor(clipId, { platform: 'local', externalId: 'mallory' })).toBeNull();
    expect((await core().clipFor(clipId, 'operator'))?.id).toBe(clipId);
  });
});
