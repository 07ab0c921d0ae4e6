import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slashCommand } from '../../dev/slack/fake-slack.ts';
import { type SlackStack, startSlackStack } from '../../dev/slack/harness.ts';
import { type LocalRedis, startLocalRedis } from '../../scripts/local-redis.ts';

/** Slack while Redis (the queue) is down: the slash command is answered within 3 s, saying so ([13]). */
describe('Slack while the queue is away (local Slack, a real redis-server stopped)', () => {
  let redis: LocalRedis;
  let stack: SlackStack;
  beforeAll(async () => {
    redis = await startLocalRedis();
    stack = await startSlackStack({ redisUrl: redis.url });
  }, 120_000);
  afterAll(async () => {
    await redis?.restart().catch(() => undefined);
    await Promise.race([stack?.stop(), new Promise((r) => setTimeout(r, 15_000))]);
    await redis?.destroy();
  }, 60_000);

  it('answers /t2v at once with "the queue is unavailable, try again in a minute" instead of timing out', async () => {
    await redis.stop('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (stack.service.frontEnd.queueAvailable() && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));

    const answer = await stack.command(slashCommand('/t2v', 'a red circle moves right --steps 2 --frames 17'));

    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(3_000);
    expect(JSON.parse(answer.text ?? '{}')).toEqual({
      response_type: 'ephemeral',
      text: 'the queue is unavailable right now (nothing was queued or charged); please try again in a minute',
    });
  });
});
