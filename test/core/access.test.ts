import { describe, expect, it } from 'vitest';
import { type Actor, access, type JobAction } from '../../bot/core/access.ts';

const job = (origin: Record<string, unknown>) => ({
  id: 'job-1',
  userId: 'u-ada',
  workspaceId: 'w-guild-a',
  origin: { platform: 'discord', channelId: 'c-videos', ...origin },
});
const publicJob = job({ ephemeral: false });
const privateJob = job({ ephemeral: true });
const ada: Actor = { userId: 'u-ada', workspaceId: 'w-guild-a', channelId: 'c-other' };
const graceHere: Actor = { userId: 'u-grace', workspaceId: 'w-guild-a', channelId: 'c-videos' };
const graceElsewhere: Actor = { ...graceHere, channelId: 'c-other' };
const graceLinked: Actor = { ...graceElsewhere, seenIn: ['c-videos'] };
const operatorHere: Actor = { userId: 'u-root', workspaceId: 'w-guild-a', channelId: 'c-videos', admin: true };
const operatorOfAnotherGuild: Actor = {
  userId: 'u-root',
  workspaceId: 'w-guild-b',
  channelId: 'c-videos',
  admin: true,
};
const deploymentOperator: Actor = { userId: 'u-ops', admin: true };

const ok = (private_: boolean) => ({ ok: true, private: private_ });
const refused = (message: RegExp) => ({
  ok: false,
  error: expect.objectContaining({ message: expect.stringMatching(message) }),
});

describe('access: the one rule for who may use a job', () => {
  it.each<[string, ReturnType<typeof job>, Actor, JobAction, unknown]>([
    ['the owner anywhere, and privacy carries over', privateJob, ada, 'derive', ok(true)],
    ['the owner deletes their own', privateJob, ada, 'delete', ok(true)],
    ['a member of its channel sees a public job', publicJob, graceHere, 'see', ok(false)],
    ['a member of its channel derives from a public job', publicJob, graceHere, 'derive', ok(false)],
    ['not from another channel', publicJob, graceElsewhere, 'see', refused(/posted in another conversation/)],
    ['from a channel the front end checked they can read', publicJob, graceLinked, 'derive', ok(false)],
    ['nobody else sees a private job', privateJob, graceHere, 'see', refused(/private result/)],
    ['nobody else derives from a private job', privateJob, graceLinked, 'derive', refused(/private result/)],
    ['not even an operator sees a private job', privateJob, operatorHere, 'see', refused(/private result/)],
    [
      'a member may not delete',
      publicJob,
      graceHere,
      'delete',
      refused(/job job-1 was not found among your requests: only the person who made it/),
    ],
    ['a member may not cancel', publicJob, graceHere, 'cancel', refused(/or an operator of the server/)],
    ["an operator of the job's guild deletes", privateJob, operatorHere, 'delete', ok(true)],
    ["an operator of the job's guild cancels", publicJob, operatorHere, 'cancel', ok(false)],
    ['an operator of another guild may not cancel', publicJob, operatorOfAnotherGuild, 'cancel', refused(/operator/)],
    ['an operator of another guild may not delete', publicJob, operatorOfAnotherGuild, 'delete', refused(/operator/)],
    [
      "another guild's channel of the same id grants nothing",
      publicJob,
      operatorOfAnotherGuild,
      'see',
      refused(/another/),
    ],
    ['a deployment operator cancels anywhere', publicJob, deploymentOperator, 'cancel', ok(false)],
  ])('%s', (_what, target, actor, action, expected) => {
    expect(access(target, actor, action)).toEqual(expected);
  });

  it('treats a job without a channel as seen nowhere but by its owner', () => {
    const bare = { ...publicJob, origin: { platform: 'cli' } };
    expect(access(bare, { userId: 'u-grace', workspaceId: 'w-guild-a' }, 'see').ok).toBe(false);
    expect(access(bare, ada, 'see')).toEqual(ok(false));
  });
});
