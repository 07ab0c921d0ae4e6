import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { blockAction, messageAction, slashCommand, viewSubmission } from '../dev/slack/fake-slack.ts';
import { startSlackStack } from '../dev/slack/harness.ts';
import { redisForDemo } from '../scripts/local-redis.ts';

/**
 * `npm run -s demo:slack`: the local Slack (Web API stand-in, signed HTTP requests), the bot and a pusa-mini worker.
 * Drives every entry point once (slash commands, modals with file_input, both message shortcuts, every result button)
 * and ends with one line: `slack: N/N requests acknowledged within 3 s, M/M clips delivered, 0 errors`.
 */
const verbose = process.argv.includes('--verbose');
const say = (line: string) => {
  if (verbose) process.stderr.write(`${line}\n`);
};

const redis = await redisForDemo(process.env);
const redisUrl = redis.url;
const stack = await startSlackStack({ redisUrl, log: say });
const { fake } = stack;
const FAST = '--steps 4 --frames 17';
let expectedClips = 0;
let errors = 0;
const sample = (name: string) => readFile(new URL(`../samples/${name}`, import.meta.url));
const ephemerals = () => fake.callsOf('chat.postEphemeral').map((c) => String(c.args['text']));
const lastView = () =>
  JSON.parse(String(fake.callsOf('views.open').at(-1)?.args['view'])) as {
    private_metadata: string;
    callback_id: string;
  };
const delivered = () => [...fake.uploads.values()].filter((u) => u.channel !== undefined).length;
const buttons = (ts: string) =>
  ((fake.messages.get(ts)?.blocks ?? []) as { type: string; elements?: { action_id: string; value: string }[] }[]).find(
    (b) => b.type === 'actions',
  )?.elements ?? [];

/** Sends one request and, when it makes a clip, waits for the clip; returns the placeholder's ts, if one was posted. */
async function step(
  what: string,
  send: () => Promise<{ status: number }>,
  makesClip: boolean,
): Promise<string | undefined> {
  const posts = fake.callsOf('chat.postMessage').length;
  const clips = delivered();
  const res = await send();
  if (res.status !== 200) errors += 1;
  if (!makesClip) return undefined;
  expectedClips += 1;
  await fake.waitFor(() => delivered() > clips, what, 120_000);
  const ts = String(fake.callsOf('chat.postMessage').slice(posts).at(0)?.result?.['ts']);
  await fake.waitFor(() => fake.messages.get(ts)?.text.startsWith('✅') === true, `${what} result message`);
  say(`${what}: delivered`);
  return ts;
}
async function openModal(what: string, send: () => Promise<{ status: number }>) {
  const opened = fake.callsOf('views.open').length;
  const res = await send();
  if (res.status !== 200) errors += 1;
  await fake.waitFor(() => fake.callsOf('views.open').length > opened, what);
  return lastView();
}

try {
  const workspace = await stack.service.store.ensureWorkspace({ platform: 'slack', externalId: 'T1', name: 'T1' });
  await stack.service.store.setWorkspaceLimits(workspace.id, { userMaxQueuedJobs: 8 });
  const star = fake.addFile({
    id: 'FSTAR',
    name: 'star.png',
    mimetype: 'image/png',
    bytes: await sample('yellow-star.png'),
  });
  const top = fake.addFile({
    id: 'FTOP',
    name: 'top.png',
    mimetype: 'image/png',
    bytes: await sample('green-square-top.png'),
  });
  const bottom = fake.addFile({
    id: 'FBOT',
    name: 'bottom.png',
    mimetype: 'image/png',
    bytes: await sample('green-square-bottom.png'),
  });
  const prompt = (value: string) => ({ prompt: { text: { type: 'plain_text_input', value } } });

  // 1. Text to video; its result carries the buttons used below.
  const first = await step('/t2v', () => stack.command(slashCommand('/t2v', `a red circle moves right ${FAST}`)), true);
  // 2. Modals with file_input.
  let view = await openModal('/animate modal', () => stack.command(slashCommand('/animate', FAST)));
  await step(
    '/animate',
    () =>
      stack.interact(
        viewSubmission(view.callback_id, view.private_metadata, {
          images: { files: { type: 'file_input', files: [star] } },
          ...prompt('a yellow star moves up'),
        }),
      ),
    true,
  );
  view = await openModal('/keyframes modal', () => stack.command(slashCommand('/keyframes', FAST)));
  await step(
    '/keyframes',
    () =>
      stack.interact(
        viewSubmission(view.callback_id, view.private_metadata, {
          images: { files: { type: 'file_input', files: [top, bottom] } },
          ...prompt('a green square moves down'),
        }),
      ),
    true,
  );
  // 3. Message shortcuts.
  view = await openModal('Animate this image', () =>
    stack.interact(messageAction('v1:animate-image', { ts: '1600000000.000100', files: [star] })),
  );
  await step(
    'Animate this image',
    () => stack.interact(viewSubmission(view.callback_id, view.private_metadata, prompt('a yellow star moves up'))),
    true,
  );
  const [videoId, video] = [...fake.uploads.entries()].find(([, u]) => u.channel !== undefined) ?? [];
  await step(
    'Extend this clip',
    () =>
      stack.interact(
        messageAction('v1:extend-clip', {
          ts: '1600000000.000200',
          thread_ts: video?.threadTs,
          files: [{ id: videoId, name: video?.filename }],
        }),
      ),
    true,
  );
  // 4. Clip commands, on the first result's clip.
  const value = buttons(first ?? '')[0]?.value ?? '{}';
  const { clipId } = JSON.parse(value) as { clipId: string };
  const second = String(/pusa-(.+)\.mp4/.exec(video?.filename ?? '')?.[1]);
  await step('/extend', () => stack.command(slashCommand('/extend', `${clipId} ${FAST}`)), true);
  await step('/transition', () => stack.command(slashCommand('/transition', `${clipId} ${second} ${FAST}`)), true);
  // 5. Result buttons.
  const at = { ts: first ?? '', channel: 'C1' };
  await step('Extend button', () => stack.interact(blockAction('v1:extend', value, at)), true);
  await step('Re-roll button', () => stack.interact(blockAction('v1:reroll', value, at)), true);
  view = await openModal('Remix modal', () => stack.interact(blockAction('v1:remix', value, at)));
  await step(
    'Remix',
    () => stack.interact(viewSubmission(view.callback_id, view.private_metadata, prompt('a red circle moves left'))),
    true,
  );
  await step('Info button', () => stack.interact(blockAction('v1:info', value, at)), false);
  // 6. Account commands, a cancelled job and Delete.
  await step('/quota', () => stack.command(slashCommand('/quota', '')), false);
  await step('/history', () => stack.command(slashCommand('/history', '5')), false);
  const posts = fake.callsOf('chat.postMessage').length;
  await step('/t2v to cancel', () => stack.command(slashCommand('/t2v', 'a long one --steps 50')), false);
  await fake.waitFor(() => fake.callsOf('chat.postMessage').length > posts, 'the placeholder');
  const longTs = String(fake.callsOf('chat.postMessage').at(-1)?.result?.['ts']);
  await fake.waitFor(() => buttons(longTs).some((b) => b.action_id === 'v1:cancel'), 'the queued message');
  const jobId = buttons(longTs)[0]?.value ?? '';
  await step('/cancel', () => stack.command(slashCommand('/cancel', jobId)), false);
  await fake.waitFor(() => fake.messages.get(longTs)?.text.startsWith('🚫') === true, 'the cancellation', 60_000);
  // Counted before Delete removes the first one.
  const clips = [...fake.uploads.values()].filter(
    (u) => u.channel !== undefined && u.bytes.subarray(4, 8).toString() === 'ftyp',
  ).length;
  await step('Delete button', () => stack.interact(blockAction('v1:delete', value, at)), false);
  await fake.waitFor(() => fake.messages.get(at.ts)?.text.startsWith('🗑️') === true, 'the deletion');
  await new Promise((r) => setTimeout(r, 500));

  const refusals = ephemerals().filter((t) => t.startsWith('⚠️'));
  for (const r of refusals) say(`refusal: ${r}`);
  errors += refusals.length + stack.log.filter((l) => /^(WARN|ERROR) /.test(l)).length;
  errors += [...fake.messages.values()].filter((m) => m.text.startsWith('❌')).length;
  const acked = stack.ackMs.filter((ms) => ms < 3000).length;
  process.stdout.write(
    `slack: ${acked}/${stack.ackMs.length} requests acknowledged within 3 s, ${clips}/${expectedClips} clips delivered, ${errors} errors\n`,
  );
  process.exitCode = acked === stack.ackMs.length && clips === expectedClips && errors === 0 ? 0 : 1;
} finally {
  await stack.stop();
  await redis.release();
}
