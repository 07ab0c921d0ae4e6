import type { App } from '@slack/bolt';
import { UserError } from '../../commands/index.ts';
import type { SlackKit } from './kit.ts';
import { requesterIn } from './requester.ts';

export function registerAdmin(app: App, kit: SlackKit): void {
  const { service, log, tell, isAdmin } = kit;

  /**
   * `/admin …` for the user ids in SLACK_ADMIN_USER_IDS, mirroring Discord's `/admin`: `quota <@user|id> <seconds>`,
   * `workspace-quota <seconds>`, `pause`, `resume`, `ban <@user|id> [reason]`, `unban <@user|id>`,
   * `block <word>` and `unblock <rule id>`.
   */
  app.command('/admin', async ({ command, ack, client, context }) => {
    await ack();
    const who = requesterIn(context);
    if (!isAdmin(who.userId))
      throw new UserError('NotAllowed', 'only workspace admins (SLACK_ADMIN_USER_IDS) may use /admin');
    const [action = '', target = '', ...rest] = command.text.trim().split(/\s+/);
    // SLACK_ADMIN_USER_IDS are set by whoever runs the bot: operators of the whole deployment (see `Actor.admin`).
    const by = { admin: true } as const;
    const operator = service.frontEnd.operator;
    const userIdOf = (mention: string) => /^<@([A-Z0-9]+)(?:\|[^>]*)?>$/.exec(mention)?.[1] ?? mention;
    const member = () => {
      if (target === '') throw new UserError('InvalidOption', `usage: /admin ${action} <@user>`);
      return { platform: 'slack' as const, externalId: userIdOf(target), displayName: userIdOf(target) };
    };
    const seconds = (text: string) => {
      const value = Number(text);
      if (text === '' || !Number.isInteger(value) || value < 0)
        throw new UserError('InvalidOption', `expected whole GPU seconds, got "${text}"`);
      return value;
    };
    /** The core's answer, or its refusal thrown to app.error. */
    const done = async <TAnswer extends { ok: true } | { ok: false; error: UserError }>(result: Promise<TAnswer>) => {
      const answer = await result;
      if (!answer.ok) throw (answer as { error: UserError }).error;
      return answer as Extract<TAnswer, { ok: true }>;
    };
    let said: string;
    switch (action) {
      case 'quota':
        await done(operator.setUserQuota(by, member(), seconds(rest[0] ?? '')));
        said = `daily quota of ${target} set to ${rest[0]} GPU s`;
        break;
      case 'workspace-quota':
        await done(
          operator.setWorkspaceLimits(by, (await who.ids).workspaceId, { userDailyGpuSeconds: seconds(target) }),
        );
        said = `default daily quota set to ${target} GPU s per user`;
        break;
      case 'pause':
        await done(operator.pause(by));
        said = 'queue paused: nothing new starts until /admin resume';
        break;
      case 'resume':
        await done(operator.resume(by));
        said = 'queue resumed';
        break;
      case 'ban':
        await done(operator.ban(by, member(), rest.join(' ') || 'banned by a workspace admin'));
        said = `${target} banned`;
        break;
      case 'unban':
        await done(operator.unban(by, member()));
        said = `${target} unbanned`;
        break;
      case 'block': {
        const { rule } = await done(
          operator.block(by, (await who.ids).workspaceId, {
            pattern: [target, ...rest].join(' '),
            kind: 'word',
            createdBy: who.userId,
          }),
        );
        said = `prompts containing "${rule.pattern}" are now refused (rule ${rule.id})`;
        break;
      }
      case 'unblock':
        await done(operator.unblock(by, (await who.ids).workspaceId, target));
        said = `rule ${target} removed`;
        break;
      default:
        throw new UserError(
          'InvalidOption',
          'usage: /admin quota <@user> <seconds> | workspace-quota <seconds> | pause | resume | ban <@user> [reason] | unban <@user> | block <word> | unblock <rule id>',
        );
    }
    log.info({ admin: who.userId, action }, 'slack admin action');
    await tell(client, who, `🛠️ ${said}`);
  });
}
