import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from '@slack/bolt';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Service } from '../../bot/service.ts';
import { registerHandlers } from '../../bot/slack/app.ts';
import { SlackConfig } from '../../bot/slack/config.ts';
import { createMessageEdits } from '../../bot/slack/edits.ts';
import { loadModelPack } from '../../pack/manifest.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const root = new URL('../..', import.meta.url).pathname;

interface Manifest {
  features: {
    slash_commands: { command: string; url?: string }[];
    shortcuts: { callback_id: string; type: string; name: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    interactivity: { is_enabled: boolean; request_url?: string };
    event_subscriptions?: { bot_events?: string[] };
  };
}
const manifest = parse(readFileSync(join(root, 'deploy/slack-app-manifest.yaml'), 'utf8')) as Manifest;

/** Bolt's registration calls, recorded: `registerHandlers` is run against this instead of a Bolt app. */
async function registrations(): Promise<{ method: string; key: unknown }[]> {
  const calls: { method: string; key: unknown }[] = [];
  const app = new Proxy(
    {},
    { get: (_target, method) => (key: unknown) => void calls.push({ method: String(method), key }) },
  ) as unknown as App;
  const pack = await loadModelPack(PACK_DIR);
  registerHandlers(app, {
    service: { pack } as unknown as Service,
    config: SlackConfig.parse({ SLACK_BOT_TOKEN: 'xoxb-manifest-test', SLACK_SIGNING_SECRET: 'secret' }),
    log: { info: () => undefined, warn: () => undefined },
    posted: new Map(),
    edits: createMessageEdits(),
  });
  return calls;
}

/**
 * The bot-token scope each Web API method needs (Slack's method reference). A method the bot starts calling that is
 * not listed here fails the test below, so its scope gets decided, and added to the manifest, on purpose.
 */
const SCOPE_OF: Record<string, string | null> = {
  'chat.postMessage': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.update': 'chat:write',
  'chat.delete': 'chat:write',
  'files.info': 'files:read',
  'files.delete': 'files:write',
  // files.getUploadURLExternal + files.completeUploadExternal
  filesUploadV2: 'files:write',
  // Modals are opened with the interaction's trigger_id; no scope.
  'views.open': null,
  // The bot's own name, for "/invite @name"; auth.test needs no scope.
  'auth.test': null,
};

/** Every Web API method bot/slack calls, read from its sources (`client.chat.update(`, `app.client.filesUploadV2(`). */
function calledMethods(): string[] {
  const dir = join(root, 'bot/slack');
  const methods = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const m of text.matchAll(/\bclient\s*\.\s*([a-z]+)\s*\.\s*([a-zA-Z]+)\s*\(/g)) methods.add(`${m[1]}.${m[2]}`);
    for (const m of text.matchAll(/\bclient\s*\.\s*(filesUploadV2)\s*\(/g)) methods.add(m[1] as string);
  }
  return [...methods].sort();
}

describe('deploy/slack-app-manifest.yaml', () => {
  it('declares exactly the slash commands bot/slack registers', async () => {
    const registered = (await registrations()).filter((c) => c.method === 'command').map((c) => c.key);

    expect(registered.length).toBeGreaterThan(0);
    expect(manifest.features.slash_commands.map((c) => c.command).sort()).toEqual([...registered].sort());
  });

  it('declares exactly the message shortcuts bot/slack registers, by callback id', async () => {
    const registered = (await registrations())
      .filter((c) => c.method === 'shortcut')
      .map((c) => c.key as { callback_id: string; type: string });

    expect(manifest.features.shortcuts.map((s) => s.callback_id).sort()).toEqual(
      registered.map((s) => s.callback_id).sort(),
    );
    for (const shortcut of registered) expect(shortcut.type).toBe('message_action');
    expect(manifest.features.shortcuts.every((s) => s.type === 'message')).toBe(true);
  });

  it('turns interactivity on (buttons and modals are registered) and subscribes to no events (none are handled)', async () => {
    const methods = new Set((await registrations()).map((c) => c.method));

    expect(methods.has('action') && methods.has('view')).toBe(true);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(methods.has('event') || methods.has('message')).toBe(false);
    expect(manifest.settings.event_subscriptions?.bot_events ?? []).toEqual([]);
  });

  it("sends commands and interactivity to Bolt's HTTP receiver path, /slack/events", () => {
    const urls = [
      ...manifest.features.slash_commands.map((c) => c.url),
      manifest.settings.interactivity.request_url,
    ].map((u) => new URL(u ?? '').pathname);

    expect(new Set(urls)).toEqual(new Set(['/slack/events']));
  });

  it('asks for exactly the bot scopes of the Web API methods bot/slack calls', () => {
    const methods = calledMethods();
    const unknown = methods.filter((m) => !(m in SCOPE_OF));
    const needed = new Set(methods.map((m) => SCOPE_OF[m]).filter((s): s is string => typeof s === 'string'));
    // Slash commands and shortcuts need `commands`.
    needed.add('commands');

    expect(methods).toContain('chat.postMessage');
    expect(unknown).toEqual([]);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
  });
});
