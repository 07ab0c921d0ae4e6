import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { REST, Routes } from 'discord.js';
import { buildCommands } from '../bot/discord/index.ts';
import { APP_ID, buttonIds, opt, resultOf, startDiscordStack, TOKEN } from '../dev/discord/harness.ts';
import type { StoredMessage } from '../dev/discord/local-discord.ts';
import { redisForDemo } from '../scripts/local-redis.ts';

/**
 * `npm run -s demo:discord`: the local Discord, the bot and a pusa-mini worker; registers the commands, drives every
 * command and button once and ends with one line:
 * `discord: N/N interactions answered within 3 s, M/M clips delivered, 0 errors`.
 */
const redis = await redisForDemo(process.env);
const redisUrl = redis.url;
const stack = await startDiscordStack({ redisUrl });
const { local } = stack;
const errors: string[] = [];
const ada = { id: '700000000000000001', username: 'ada' };
const root = { id: '700000000000000003', username: 'root', permissions: String(1n << 5n) };
const ids: string[] = [];
const delivered = new Set<string>();
const clips: string[] = [];
const track = <TValue extends { id: string }>(i: TValue, clip = false) => {
  ids.push(i.id);
  if (clip) clips.push(i.id);
  return i;
};
const result = (id: string) =>
  local
    .waitFor(() => resultOf(local, id), `clip of ${id}`, 60_000)
    .catch((error: Error) => {
      const said = [...local.messages.values()].filter((m) => m.interactionId === id).map((m) => m.content);
      errors.push(`${error.message}: ${said.join(' | ')}`);
    });
const answered = (id: string) => local.waitFor(() => local.interactions.get(id)?.answeredAt, `answer to ${id}`, 10_000);
try {
  await new REST({ api: local.apiUrl }).setToken(TOKEN).put(Routes.applicationCommands(APP_ID), {
    body: buildCommands({ frameCounts: [17, 21, 25, 29, 33], sizes: [[128, 128]] }),
  });
  const base = [opt('steps', 4, 4), opt('frames', 4, 17)];
  const t2v = track(local.slash('t2v', [opt('prompt', 3, 'a red circle moves right'), ...base], ada), true);
  const first = (await result(t2v.id)) as StoredMessage;
  const png = await readFile('samples/yellow-star.png');
  const url = local.serveFile('star.png', png, 'image/png');
  const att = (name: string) => ({
    id: name,
    filename: `${name}.png`,
    size: png.length,
    url,
    proxy_url: url,
    content_type: 'image/png',
  });
  const animate = track(
    local.slash('animate', [opt('image', 11, 'a'), ...base], ada, { resolved: { attachments: { a: att('a') } } }),
    true,
  );
  const keyframes = track(
    local.slash(
      'keyframes',
      [opt('start', 11, 's'), opt('end', 11, 'e'), opt('prompt', 3, 'a star moves'), ...base],
      ada,
      {
        resolved: { attachments: { s: att('s'), e: att('e') } },
      },
    ),
    true,
  );
  const [extendId, rerollId, remixId, infoId] = buttonIds(first);
  const extend = track(local.slash('extend', [opt('clip', 3, extendId?.split(':')[2] ?? '')], ada), true);
  await Promise.all([result(animate.id), result(keyframes.id), result(extend.id)]);
  const second = resultOf(local, animate.id);
  track(local.autocomplete('extend', [{ name: 'clip', type: 3, value: '', focused: true }], ada));
  const transition = track(
    local.slash(
      'transition',
      [
        opt('from', 3, extendId?.split(':')[2] ?? ''),
        opt('to', 3, (second && buttonIds(second)[0]?.split(':')[2]) ?? ''),
      ],
      ada,
    ),
    true,
  );
  const message = local.userMessage(ada, { filename: 'star.png', url, contentType: 'image/png', size: png.length });
  const menuAnimate = track(
    local.contextMenu('Animate this image', message, { id: '700000000000000011', username: 'grace' }),
    true,
  );
  const menuExtend = track(
    local.contextMenu('Extend this clip', first, { id: '700000000000000012', username: 'alan' }),
    true,
  );
  const extendButton = track(
    local.button(first, extendId ?? '', { id: '700000000000000013', username: 'edsger' }),
    true,
  );
  const reroll = track(local.button(first, rerollId ?? '', { id: '700000000000000014', username: 'barbara' }), true);
  track(local.button(first, infoId ?? '', ada));
  const remix = track(local.button(first, remixId ?? '', ada));
  await answered(remix.id);
  const modal = track(
    local.modalSubmit(
      remixId ?? '',
      { prompt: 'a blue circle moves left' },
      { id: '700000000000000015', username: 'ken' },
      first,
    ),
    true,
  );
  for (const id of [transition.id, menuAnimate.id, menuExtend.id, extendButton.id, reroll.id, modal.id])
    await result(id);
  track(local.slash('quota', [], ada));
  track(local.slash('history', [], ada));
  await stack.service.generate.pause();
  const queued = track(local.slash('t2v', [opt('prompt', 3, 'cancel me'), ...base], ada));
  await local.waitFor(() => local.original(queued)?.components.length, 'queued message');
  const cancelMessage = local.original(queued);
  if (cancelMessage !== undefined) track(local.button(cancelMessage, buttonIds(cancelMessage)[0] ?? '', ada));
  track(local.slash('admin', [{ name: 'resume', type: 1, options: [] }], root));
  const member = { name: 'user', type: 6, value: '700000000000000011' };
  const users = {
    users: { '700000000000000011': { id: '700000000000000011', username: 'grace', discriminator: '0', avatar: null } },
  };
  track(
    local.slash('admin', [{ name: 'quota', type: 1, options: [member, opt('seconds', 4, 600)] }], root, {
      resolved: users,
    }),
  );
  track(local.slash('admin', [{ name: 'ban', type: 1, options: [member] }], root, { resolved: users }));
  track(local.slash('admin', [{ name: 'unban', type: 1, options: [member] }], root, { resolved: users }));
  const queued2 = track(local.slash('t2v', [opt('prompt', 3, 'cancel me too'), ...base], ada));
  await answered(queued2.id);
  track(local.slash('cancel', [], ada));
  for (const id of clips) if (resultOf(local, id) !== undefined) delivered.add(id);
  if (second !== undefined) track(local.button(second, buttonIds(second)[4] ?? '', ada));
  for (const id of ids) await answered(id).catch(() => errors.push(`no answer to ${id}`));
  await new Promise((r) => setTimeout(r, 1000));
} catch (error) {
  errors.push((error as Error).message);
}
const within = ids.filter((id) => {
  const i = local.interactions.get(id);
  return i?.answeredAt !== undefined && i.answeredAt - i.dispatchedAt < 3000;
}).length;

errors.push(...stack.logs.filter((l) => l.startsWith('error')));
// A refusal shown to a user counts as an error too: the demo only asks for things that should work.
for (const m of local.messages.values())
  if (m.interactionId !== undefined && ids.includes(m.interactionId) && m.content.includes('⚠️'))
    errors.push(`refused: ${m.content.split('\n')[0]}`);
if (process.argv.includes('--verbose')) for (const e of errors) process.stderr.write(`${e}\n`);
await stack.stop();
await redis.release();
process.stdout.write(
  `discord: ${within}/${ids.length} interactions answered within 3 s, ${delivered.size}/${clips.length} clips delivered, ${errors.length} errors\n`,
);
process.exit(errors.length === 0 && within === ids.length && delivered.size === clips.length ? 0 : 1);
