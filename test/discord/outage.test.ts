import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DiscordStack, opt, startDiscordStack } from '../../dev/discord/harness.ts';
import { type LocalRedis, startLocalRedis } from '../../scripts/local-redis.ts';

const ada = { id: '700000000000000001', username: 'ada' };
const STRING = 3;
const INTEGER = 4;

/** Discord while Redis (the queue) is down: the member is told so at once, in words safe to show ([13]). */
describe('Discord while the queue is away (local Discord, a real redis-server stopped)', () => {
  let redis: LocalRedis;
  let stack: DiscordStack;
  beforeAll(async () => {
    redis = await startLocalRedis();
    stack = await startDiscordStack({ redisUrl: redis.url });
  }, 120_000);
  afterAll(async () => {
    await redis?.restart().catch(() => undefined);
    await Promise.race([stack?.stop(), new Promise((r) => setTimeout(r, 15_000))]);
    await redis?.destroy();
  }, 60_000);

  it('answers /t2v with "the queue is unavailable, try again in a minute" and queues nothing', async () => {
    await redis.stop('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (stack.service.frontEnd.queueAvailable() && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));

    const i = stack.local.slash(
      't2v',
      [opt('prompt', STRING, 'a red circle moves right'), opt('steps', INTEGER, 2), opt('frames', INTEGER, 17)],
      ada,
    );
    const shown = await stack.local.waitFor(
      () => [...stack.local.messages.values()].find((m) => m.interactionId === i.id && /unavailable/.test(m.content)),
      'the outage reply',
      15_000,
    );

    expect(shown.content).toMatch(
      /the queue is unavailable right now \(nothing was queued or charged\); please try again in a minute/,
    );
    expect(shown.content).not.toMatch(/ECONNREFUSED|Connection is closed|redis/i);
    const user = await stack.service.store.findUser('discord', ada.id);
    expect(user === null ? [] : await stack.service.store.history(user.id, { limit: 10 })).toEqual([]);
  });
});
