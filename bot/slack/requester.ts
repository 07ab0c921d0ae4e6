import type { AnyMiddlewareArgs, Context, Middleware } from '@slack/bolt';
import type { FrontDoor } from '../front-door.ts';

/** Who asked, where their answer goes, and who they are to the core; one per event, in Bolt's `context`. */
export interface Requester {
  userId: string;
  userName: string;
  teamId: string;
  channelId: string;
  /** Post in this thread (a shortcut or button on a message, a modal opened from one); absent: a new message. */
  threadTs?: string;
  /** The payload's `response_url`: it reaches the user even in a channel the app is not in. */
  responseUrl?: string;
  /**
   * The requester in the core's ids (their user and this team's workspace), resolved once per event, as the event
   * arrives: started before the listener acks, awaited only where needed, so the 3 s ack never waits on it.
   */
  ids: Promise<{ userId: string; workspaceId: string }>;
}

/** Where a modal's answer goes; every view of ours carries it at the top of its `private_metadata`. */
export interface ModalPlace {
  channelId: string;
  threadTs?: string;
}

type Where = Omit<Requester, 'ids'>;
type Node = Record<string, unknown>;

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const node = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Node) : {});

/** The requester's place and name in a slash command, shortcut, button or view payload; undefined for anything else. */
export function whereOf(body: Node): Where | undefined {
  const user = node(body['user']);
  const team = node(body['team']);
  const optional = (threadTs: string | undefined, responseUrl: string | undefined) => ({
    ...(threadTs === undefined ? {} : { threadTs }),
    ...(responseUrl === undefined ? {} : { responseUrl }),
  });
  if (typeof body['command'] === 'string')
    return {
      userId: String(body['user_id']),
      userName: String(body['user_name'] ?? body['user_id']),
      teamId: String(body['team_id'] ?? 'unknown'),
      channelId: String(body['channel_id']),
      ...optional(undefined, str(body['response_url'])),
    };
  const userId = str(user['id']);
  if (userId === undefined) return undefined;
  const who = {
    userId,
    userName: str(user['name']) ?? str(user['username']) ?? userId,
    teamId: str(team['id']) ?? str(user['team_id']) ?? 'unknown',
  };
  const message = node(body['message']);
  const container = node(body['container']);
  switch (body['type']) {
    case 'block_actions': {
      const threadTs = str(message['thread_ts']) ?? str(container['message_ts']);
      const channelId = str(node(body['channel'])['id']) ?? String(container['channel_id'] ?? '');
      return { ...who, channelId, ...optional(threadTs, str(body['response_url'])) };
    }
    case 'message_action':
      return {
        ...who,
        channelId: String(node(body['channel'])['id'] ?? ''),
        ...optional(str(message['thread_ts']) ?? str(message['ts']), str(body['response_url'])),
      };
    case 'view_submission': {
      const place = placeOf(node(body['view'])['private_metadata']);
      const responseUrls = body['response_urls'];
      const responseUrl = Array.isArray(responseUrls) ? str(node(responseUrls[0])['response_url']) : undefined;
      return { ...who, channelId: place?.channelId ?? '', ...optional(place?.threadTs, responseUrl) };
    }
    default:
      return undefined;
  }
}

/** A view's place, from its private_metadata; undefined when it is not one of ours. */
export function placeOf(privateMetadata: unknown): ModalPlace | undefined {
  try {
    const meta = node(JSON.parse(String(privateMetadata)));
    const channelId = str(meta['channelId']);
    const threadTs = str(meta['threadTs']);
    return channelId === undefined ? undefined : { channelId, ...(threadTs === undefined ? {} : { threadTs }) };
  } catch {
    return undefined;
  }
}

/**
 * Bolt global middleware: builds the requester of every interaction into `context.requester` (Bolt's middleware and
 * context design: docs.slack.dev/tools/bolt-js/concepts/global-middleware), so listeners read it instead of each
 * opening with the same lines. Events without a user (none are subscribed) pass through untouched.
 */
export function requesterMiddleware(service: Pick<FrontDoor, 'frontEnd'>): Middleware<AnyMiddlewareArgs> {
  return async ({ body, context, next }) => {
    const where = whereOf(body as unknown as Node);
    if (where !== undefined) {
      const ids = service.frontEnd.identify({
        user: { platform: 'slack', externalId: where.userId, displayName: where.userName },
        workspace: { platform: 'slack', externalId: where.teamId, name: where.teamId },
      });
      // Awaited by the listeners that need it; its failure reaches app.error through them, not as an unhandled one.
      ids.catch(() => undefined);
      context['requester'] = { ...where, ids } satisfies Requester;
    }
    await next();
  };
}

/** The requester the middleware put in `context`. */
export function requesterIn(context: Context): Requester {
  const requester = context['requester'] as Requester | undefined;
  if (requester === undefined) throw new Error('no requester in the context: is requesterMiddleware installed?');
  return requester;
}
