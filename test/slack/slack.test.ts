import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockAction, messageAction, sign, slashCommand, viewSubmission } from '../../dev/slack/fake-slack.ts';
import { SIGNING_SECRET, type SlackStack, startSlackStack } from '../../dev/slack/harness.ts';
import { buttonsOf, placeholderAfter, placeholdersAfter, resultAt } from './follow-jobs.ts';

const sample = (name: string) => readFile(new URL(`../../samples/${name}`, import.meta.url));
const FAST = '--steps 4 --frames 17';

/** The latest message in channel C1 that is not in a thread, i.e. a job's placeholder. */
const jobMessages = (stack: SlackStack) =>
  [...stack.fake.messages.entries()].filter(([, m]) => m.threadTs === undefined);
const ephemerals = (stack: SlackStack) => stack.fake.callsOf('chat.postEphemeral').map((c) => String(c.args['text']));

describe('Slack front end over HTTP', () => {
  let stack: SlackStack;
  beforeAll(async () => {
    stack = await startSlackStack();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('acks /t2v at once, shows progress at most every 2 s and uploads the clip into the thread with buttons', async () => {
    let res: Awaited<ReturnType<SlackStack['command']>> | undefined;
    const ts = await placeholderAfter(stack, async () => {
      res = await stack.command(slashCommand('/t2v', 'a red circle moves right --steps 40 --frames 17 --seed 3'));
    });

    expect(res?.status).toBe(200);
    expect(res?.ms).toBeLessThan(3000);
    const { message: result, upload } = await resultAt(stack, ts, 'the result');
    expect(upload.bytes.subarray(4, 8).toString()).toBe('ftyp');
    expect(upload.filename).toMatch(/^pusa-.+\.mp4$/);
    expect(upload.channel).toBe('C1');
    expect(result.channel).toBe('C1');
    expect(upload.threadTs).toBe(ts);
    expect(buttonsOf(result.blocks).map((b) => b.action_id)).toEqual([
      'v1:extend',
      'v1:reroll',
      'v1:remix',
      'v1:info',
      'v1:delete',
    ]);
    const edits = stack.fake.callsOf('chat.update').filter((c) => c.args['ts'] === upload.threadTs);
    const progress = edits.filter((c) => String(c.args['text']).startsWith('🎬'));
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.at - progress[i - 1]!.at).toBeGreaterThanOrEqual(1900);
    expect(edits.some((c) => String(c.args['text']).startsWith('⏳ Queued'))).toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(String(progress.at(-1)!.args['text'])).toMatch(/^🎬 [▰▱]{10} step \d+\/40 · ETA ~\d+ s$/);
    // The latent preview rides along as an 8×8 grid of coloured squares (Slack shows no image without a public URL).
    const swatches = (c: { args: Record<string, unknown> }) =>
      [
        ...String(typeof c.args['blocks'] === 'string' ? c.args['blocks'] : JSON.stringify(c.args['blocks'])).matchAll(
          /[🟥🟧🟨🟩🟦🟪🟫⬛⬜]/gu,
        ),
      ].length;
    expect(progress.some((c) => swatches(c) === 64)).toBe(true);
  });

  it('rejects forged, stale and replayed signatures with 401 and queues nothing', async () => {
    const body = slashCommand('/t2v', `forged ${FAST}`);
    const url = stack.slack.eventsUrl!;
    const now = Math.floor(Date.now() / 1000);
    const posts = stack.fake.callsOf('chat.postMessage').length;

    const forged = await stack.fake.send(url, body, {
      secret: 'wrong-secret',
      contentType: 'application/x-www-form-urlencoded',
    });
    const stale = await stack.fake.send(url, body, {
      secret: SIGNING_SECRET,
      contentType: 'application/x-www-form-urlencoded',
      timestamp: now - 6 * 60,
    });
    const tampered = await stack.fake.send(url, `${body}x`, {
      secret: SIGNING_SECRET,
      contentType: 'application/x-www-form-urlencoded',
      signature: sign(SIGNING_SECRET, now, body),
      timestamp: now,
    });
    const original = await stack.fake.send(url, slashCommand('/quota', ''), {
      secret: SIGNING_SECRET,
      contentType: 'application/x-www-form-urlencoded',
      timestamp: now,
    });
    const quotaBody = slashCommand('/quota', '', { trigger: 'fixed' });
    const first = await stack.fake.send(url, quotaBody, {
      secret: SIGNING_SECRET,
      contentType: 'application/x-www-form-urlencoded',
      timestamp: now,
    });
    const replayed = await stack.fake.send(url, quotaBody, {
      secret: SIGNING_SECRET,
      contentType: 'application/x-www-form-urlencoded',
      timestamp: now,
    });

    expect([forged.status, stale.status, tampered.status, replayed.status]).toEqual([401, 401, 401, 401]);
    expect([original.status, first.status]).toEqual([200, 200]);
    // The record of used signatures is in Redis: a restarted bot still refuses the captured request.
    await stack.restartSlack();
    const afterRestart = await stack.fake.send(stack.slack.eventsUrl!, quotaBody, {
      secret: SIGNING_SECRET,
      contentType: 'application/x-www-form-urlencoded',
      timestamp: now,
    });
    expect(afterRestart.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.fake.callsOf('chat.postMessage').length).toBe(posts);
  });

  it('refuses unsigned and oversized bodies before reading them in full', async () => {
    const url = new URL(stack.slack.eventsUrl!);
    /** Opens a POST, writes `send` bytes and never ends it; resolves with the status the bot answers meanwhile. */
    const answerWhileSending = (headers: Record<string, string | number>, send: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
            req.destroy();
          },
        );
        req.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
        });
        req.write(Buffer.alloc(send, 0x61));
      });
    const fresh = (n: number) => ({
      'x-slack-signature': `v0=${n}`,
      'x-slack-request-timestamp': Math.floor(Date.now() / 1000),
    });

    // No signature headers: answered while the (endless) body is still coming.
    expect(await answerWhileSending({ 'content-type': 'application/json' }, 64 * 1024)).toBe(401);
    // Signed-looking, declaring 200 MB: refused on the header.
    expect(await answerWhileSending({ ...fresh(1), 'content-length': 200 * 2 ** 20 }, 1024)).toBe(413);
    // Signed-looking, chunked, past 1 MiB: refused once it has streamed that far.
    expect(await answerWhileSending(fresh(2), 2 * 2 ** 20)).toBe(413);
  });

  it('animates an image chosen in the /animate modal, downloading it from Slack with the bot token', async () => {
    const file = stack.fake.addFile({
      id: 'FSTAR',
      name: 'yellow-star.png',
      mimetype: 'image/png',
      bytes: await sample('yellow-star.png'),
    });
    const open = await stack.command(slashCommand('/animate', `a yellow star moves up ${FAST}`));
    await stack.fake.waitFor(() => stack.fake.callsOf('views.open').length > 0, 'the modal');
    const view = JSON.parse(String(stack.fake.callsOf('views.open').at(-1)!.args['view'])) as {
      private_metadata: string;
      callback_id: string;
      blocks: { element: { type: string } }[];
    };
    let submit: Awaited<ReturnType<SlackStack['interact']>> | undefined;
    const ts = await placeholderAfter(stack, async () => {
      submit = await stack.interact(
        viewSubmission(view.callback_id, view.private_metadata, {
          images: { files: { type: 'file_input', files: [file] } },
          prompt: { text: { type: 'plain_text_input', value: 'a yellow star moves up' } },
        }),
      );
    });

    expect(open.status).toBe(200);
    expect(view.blocks[0]!.element.type).toBe('file_input');
    expect(submit?.status).toBe(200);
    await resultAt(stack, ts, 'the animated clip', 60_000);
    expect(stack.fake.callsOf('files.info').at(-1)!.args['file']).toBe('FSTAR');
  });

  it('re-rolls an animated clip with the image it was made from (kept by the core; Slack once refused)', async () => {
    const [ts, message] = jobMessages(stack).find(([, m]) => m.text.includes('a yellow star moves up'))!;
    const value = buttonsOf(message.blocks).find((b) => b.action_id === 'v1:reroll')!.value;
    const { jobId } = JSON.parse(value) as { jobId: string };
    const fileReads = stack.fake.callsOf('files.info').length;

    const again = await placeholderAfter(stack, () =>
      stack.interact(blockAction('v1:reroll', value, { ts, channel: 'C1' })),
    );
    await resultAt(stack, again, 'the re-rolled clip', 60_000);

    const source = await stack.service.store.job(jobId);
    const user = await stack.service.store.findUser('slack', 'U1');
    const [latest] = await stack.service.store.history(user?.id ?? '', { limit: 1 });
    expect(latest).toMatchObject({
      task: 'i2v',
      parameters: { prompt: 'a yellow star moves up', steps: 4, frames: 17 },
    });
    expect((latest?.parameters['images'] as unknown[] | undefined)?.length).toBe(1);
    expect(latest?.parameters['seed']).not.toBe(source?.parameters['seed']);
    // The image came from the core's copy, not from Slack again.
    expect(stack.fake.callsOf('files.info').length).toBe(fileReads);
  });

  it('refuses an oversized file in the modal and a shortcut on a message without an image', async () => {
    const big = stack.fake.addFile({
      id: 'FBIG',
      name: 'huge.png',
      mimetype: 'image/png',
      bytes: Buffer.alloc(16),
      size: 11 * 1024 * 1024,
    });
    const meta = JSON.stringify({ kind: 'animate', channelId: 'C1', options: {} });

    const res = await stack.interact(
      viewSubmission('v1:image-modal', meta, {
        images: { files: { type: 'file_input', files: [big] } },
        prompt: { text: { type: 'plain_text_input', value: 'x' } },
      }),
    );
    const shortcut = await stack.interact(messageAction('v1:animate-image', { ts: '1.1', text: 'no image here' }));

    expect(res.status).toBe(200);
    expect(JSON.parse(res.text ?? '{}')).toEqual({
      response_action: 'errors',
      errors: { images: 'huge.png is over 10 MB; choose a smaller image' },
    });
    expect(shortcut.status).toBe(200);
    await stack.fake.waitFor(() => ephemerals(stack).some((t) => t.includes('has no image')), 'the ephemeral error');
  });

  it('reads options in the one chat-command grammar and names an unknown one', async () => {
    const ts = await placeholderAfter(stack, () =>
      stack.command(
        slashCommand('/t2v', 'a sign reading “OPEN” --cfg 4.5 --frames=17 --steps 4 --negative "blurry, dark"'),
      ),
    );
    await stack.command(slashCommand('/t2v', 'a cat --zoom 2'));

    const user = await stack.service.store.ensureUser({ platform: 'slack', externalId: 'U1', displayName: 'U1' });
    const [job] = await stack.service.store.history(user.id, { limit: 1 });
    expect(job?.parameters).toMatchObject({
      prompt: 'a sign reading “OPEN”',
      guidance: 4.5,
      frames: 17,
      steps: 4,
      negativePrompt: 'blurry, dark',
    });
    await stack.fake.waitFor(
      () => ephemerals(stack).some((t) => t.includes('Unknown option --zoom; the options are --steps N')),
      'the unknown-option error',
    );
    await resultAt(stack, ts, 'the clip');
  });

  it('answers /quota, /history and /cancel ephemerally', async () => {
    await stack.command(slashCommand('/quota', ''));
    await stack.command(slashCommand('/history', '5'));
    await stack.command(slashCommand('/cancel', 'no-such-job'));

    await stack.fake.waitFor(
      () => ephemerals(stack).some((t) => t.includes('was not found among your requests')),
      'cancel',
    );
    expect(ephemerals(stack).some((t) => t.startsWith('📊 Today'))).toBe(true);
    expect(ephemerals(stack).some((t) => t.startsWith('🕘 Your last'))).toBe(true);
  });

  it('extends a result from its button after a bot restart, and a double click makes one job', async () => {
    const [ts, message] = jobMessages(stack).find(([, m]) => m.text.startsWith('✅'))!;
    const extend = buttonsOf(message.blocks).find((b) => b.action_id === 'v1:extend')!;
    await stack.restartSlack();
    let clicks: Awaited<ReturnType<SlackStack['interact']>>[] = [];

    // Each click posts a placeholder; the duplicate's is deleted again and its clicker told which job has it.
    const placeholders = await placeholdersAfter(
      stack,
      async () => {
        clicks = await Promise.all([
          stack.interact(blockAction('v1:extend', extend.value, { ts, channel: 'C1', blocks: message.blocks })),
          stack.interact(blockAction('v1:extend', extend.value, { ts, channel: 'C1', blocks: message.blocks })),
        ]);
      },
      2,
    );

    expect(clicks.map((c) => c.status)).toEqual([200, 200]);
    await stack.fake.waitFor(
      () => ephemerals(stack).some((t) => t.startsWith('This request is already queued as job')),
      'the answer to the second click',
    );
    const kept = placeholders.filter((p) => stack.fake.messages.has(p));
    expect(kept).toHaveLength(1);
    const { upload } = await resultAt(stack, kept[0]!, 'the extension', 60_000);
    expect(upload.threadTs).toBe(ts);
  });

  it('delivers a job requested before a bot restart to its message after it', async () => {
    const posted = stack.fake.callsOf('chat.postMessage').length;
    await stack.command(slashCommand('/t2v', 'a red circle moves left --steps 30 --frames 17'));
    await stack.fake.waitFor(() => stack.fake.callsOf('chat.postMessage').length > posted, 'the placeholder');
    const ts = String(stack.fake.callsOf('chat.postMessage').at(-1)!.result?.['ts']);

    await stack.restartSlack();

    await stack.fake.waitFor(() => stack.fake.messages.get(ts)?.text.startsWith('✅') === true, 'the result');
    expect([...stack.fake.uploads.values()].some((u) => u.threadTs === ts)).toBe(true);
  });

  it('retries a rate-limited chat.update after its Retry-After', async () => {
    stack.fake.rateLimit('chat.update', 1, 1);
    const before = stack.fake.callsOf('chat.update').length;

    const ts = await placeholderAfter(stack, () =>
      stack.command(slashCommand('/t2v', `a green square moves down ${FAST}`)),
    );

    await stack.fake.waitFor(
      () =>
        stack.fake
          .callsOf('chat.update')
          .slice(before)
          .some((c, i, all) => i > 0 && c.args['text'] === all[0]!.args['text']),
      'the retried update',
    );
    const limited = stack.fake.callsOf('chat.update').slice(before);
    expect(limited[0]!.status).toBe(429);
    const retried = limited.find((c, i) => i > 0 && c.args['text'] === limited[0]!.args['text']);
    expect(retried?.status).toBe(200);
    expect(retried!.at - limited[0]!.at).toBeGreaterThanOrEqual(950);
    await resultAt(stack, ts, 'the clip');
    // The retried progress edit must not land on top of the result.
    const last = stack.fake
      .callsOf('chat.update')
      .filter((c) => c.args['ts'] === ts && c.status === 200)
      .at(-1)!;
    expect(String(last.args['text'])).toMatch(/^✅/u);
  });

  it('makes keyframes from a /keyframes modal with two files, spread over the clip', async () => {
    const top = stack.fake.addFile({
      id: 'FTOP',
      name: 'top.png',
      mimetype: 'image/png',
      bytes: await sample('green-square-top.png'),
    });
    const bottom = stack.fake.addFile({
      id: 'FBOTTOM',
      name: 'bottom.png',
      mimetype: 'image/png',
      bytes: await sample('green-square-bottom.png'),
    });
    const opened = stack.fake.callsOf('views.open').length;
    await stack.command(slashCommand('/keyframes', FAST));
    await stack.fake.waitFor(() => stack.fake.callsOf('views.open').length > opened, 'the modal');
    const view = JSON.parse(String(stack.fake.callsOf('views.open').at(-1)!.args['view'])) as {
      private_metadata: string;
    };
    const ts = await placeholderAfter(stack, () =>
      stack.interact(
        viewSubmission('v1:image-modal', view.private_metadata, {
          images: { files: { type: 'file_input', files: [top, bottom] } },
          prompt: { text: { type: 'plain_text_input', value: 'a green square moves down' } },
        }),
      ),
    );

    await resultAt(stack, ts, 'the keyframes clip');
    const user = await stack.service.store.ensureUser({ platform: 'slack', externalId: 'U1', displayName: 'U1' });
    const [job] = await stack.service.store.history(user.id, { limit: 1 });
    expect(job?.task).toBe('keyframes');
    const images = (job?.parameters['images'] ?? []) as { latentIndex: number }[];
    expect(images.map((i) => i.latentIndex)).toEqual([0, 4]);
  });

  it('animates the image of a message through the "Animate this image" shortcut', async () => {
    const star = stack.fake.addFile({
      id: 'FSHORT',
      name: 'star.png',
      mimetype: 'image/png',
      bytes: await sample('yellow-star.png'),
    });
    const opened = stack.fake.callsOf('views.open').length;
    await stack.interact(messageAction('v1:animate-image', { ts: '1699999999.000100', text: 'look', files: [star] }));
    await stack.fake.waitFor(() => stack.fake.callsOf('views.open').length > opened, 'the prompt modal');
    const view = JSON.parse(String(stack.fake.callsOf('views.open').at(-1)!.args['view'])) as {
      private_metadata: string;
    };
    const ts = await placeholderAfter(stack, () =>
      stack.interact(
        viewSubmission('v1:image-modal', view.private_metadata, {
          prompt: { text: { type: 'plain_text_input', value: 'a yellow star moves up' } },
        }),
      ),
    );

    expect(stack.fake.messages.get(ts)?.threadTs).toBe('1699999999.000100');
    const { upload } = await resultAt(stack, ts, 'the clip');
    expect(upload.threadTs).toBe('1699999999.000100');
  });

  it('extends a clip from the "Extend this clip" shortcut on its video, and refuses other messages', async () => {
    const [fileId, video] = [...stack.fake.uploads.entries()].find(([, u]) => u.channel !== undefined)!;
    const ts = await placeholderAfter(stack, () =>
      stack.interact(
        messageAction('v1:extend-clip', {
          ts: '1.5',
          thread_ts: video.threadTs,
          files: [{ id: fileId, name: video.filename }],
        }),
      ),
    );
    await stack.interact(messageAction('v1:extend-clip', { ts: '1.6', text: 'just words' }));

    const { upload } = await resultAt(stack, ts, 'the extension', 60_000);
    expect(upload.threadTs).toBe(video.threadTs);
    expect(ephemerals(stack).some((t) => t.includes('That message is not one of my clips'))).toBe(true);
  });

  it('answers Info ephemerally, refuses Delete to others and deletes for the owner', async () => {
    const [ts, message] = jobMessages(stack).find(([, m]) => m.text.startsWith('✅'))!;
    const value = buttonsOf(message.blocks).find((b) => b.action_id === 'v1:info')!.value;
    const before = ephemerals(stack).length;

    await stack.interact(blockAction('v1:info', value, { ts, channel: 'C1' }));
    await stack.interact(blockAction('v1:delete', value, { ts, channel: 'C1' }, 'U2'));
    await stack.fake.waitFor(() => ephemerals(stack).length >= before + 2, 'two ephemeral answers');
    await stack.interact(blockAction('v1:delete', value, { ts, channel: 'C1' }));

    const answers = ephemerals(stack).slice(before).join('\n');
    expect(answers).toMatch(/ℹ️ Clip `.+`[\s\S]*seed 3/);
    // The core's one refusal for Delete, the same words on every front end.
    expect(answers).toMatch(/was not found among your requests: only the person who made it, or an operator/);
    await stack.fake.waitFor(() => stack.fake.messages.get(ts)?.text.startsWith('🗑️') === true, 'the deletion');
    expect(stack.fake.callsOf('files.delete').length).toBe(1);
    const { clipId, jobId } = JSON.parse(String(value)) as { clipId: string; jobId: string };
    expect(await stack.service.store.clip(clipId)).toBeNull();
    expect(await stack.service.store.job(jobId)).toMatchObject({ clip: null, deletedAt: expect.any(Date) });
  });

  it('re-rolls, remixes through a modal and runs /extend and /transition on clip ids', {
    timeout: 120_000,
  }, async () => {
    const ts = await placeholderAfter(stack, () =>
      stack.command(slashCommand('/t2v', `a blue circle moves right ${FAST}`)),
    );
    const { message, clipId } = await resultAt(stack, ts, 'the t2v');
    const other = jobMessages(stack).find(([t, m]) => t !== ts && m.text.startsWith('✅'))!;
    const clipIds = [clipId, JSON.parse(buttonsOf(other[1].blocks)[0]!.value).clipId as string];
    const value = buttonsOf(message.blocks).find((b) => b.action_id === 'v1:reroll')!.value;
    const opened = stack.fake.callsOf('views.open').length;
    const warnings = ephemerals(stack).filter((t) => t.startsWith('⚠️')).length;
    // Four jobs at once: raise the per-user cap (default 3) as a workspace admin would.
    const workspace = await stack.service.store.ensureWorkspace({ platform: 'slack', externalId: 'T1', name: 'T1' });
    await stack.service.store.setWorkspaceLimits(workspace.id, { userMaxQueuedJobs: 8 });

    const jobs = await placeholdersAfter(
      stack,
      async () => {
        await stack.interact(blockAction('v1:reroll', value, { ts, channel: 'C1' }));
        await stack.interact(blockAction('v1:remix', value, { ts, channel: 'C1' }));
        await stack.fake.waitFor(() => stack.fake.callsOf('views.open').length > opened, 'the remix modal');
        const view = JSON.parse(String(stack.fake.callsOf('views.open').at(-1)!.args['view'])) as {
          private_metadata: string;
        };
        await stack.interact(
          viewSubmission('v1:remix-modal', view.private_metadata, {
            prompt: { text: { type: 'plain_text_input', value: 'a blue circle moves left' } },
          }),
        );
        await stack.command(slashCommand('/extend', `${clipIds[0]} --steps 4`));
        await stack.command(slashCommand('/transition', `${clipIds[0]} ${clipIds[1]} --steps 4 a morph`));
      },
      4,
    );

    for (const job of jobs) await resultAt(stack, job, 'each of the four clips', 100_000);
    const user = await stack.service.store.ensureUser({ platform: 'slack', externalId: 'U1', displayName: 'U1' });
    const tasks = (await stack.service.store.history(user.id, { limit: 4 })).map((j) => j.task).sort();
    expect(tasks).toContain('transition');
    expect(tasks.filter((t) => t === 'extend').length).toBeGreaterThanOrEqual(1);
    expect(ephemerals(stack).filter((t) => t.startsWith('⚠️')).length).toBe(warnings);
  });

  it('escapes <!channel>, <!here>, member mentions and disguised links in a prompt wherever it is posted', async () => {
    const before = stack.fake.specials.length;
    const prompt = '<!channel> <!here> <@U9> see <https://evil.example/x|docs.example.com> a red circle moves right';

    const ts = await placeholderAfter(stack, () => stack.command(slashCommand('/t2v', `${prompt} ${FAST}`)));
    const { message } = await resultAt(stack, ts, 'the clip');

    expect(message.text).toContain('&lt;!channel&gt;');
    expect(stack.fake.specials.slice(before).filter((s) => s.ts === ts)).toEqual([]);
  });

  it('tells the user how to invite the app when it is not in the channel, by response_url or else by DM', async () => {
    const star = stack.fake.addFile({
      id: 'FNOTIN',
      name: 'star.png',
      mimetype: 'image/png',
      bytes: await sample('yellow-star.png'),
    });
    const dms = () => stack.fake.callsOf('chat.postMessage').filter((c) => c.args['channel'] === 'U1');
    const dmsBefore = dms().length;
    stack.fake.setChannels(['C1']);
    try {
      await stack.command(
        slashCommand('/t2v', `a red circle ${FAST}`, { channel: 'C9', responseUrl: stack.fake.responseUrl('r1') }),
      );
      await stack.fake.waitFor(() => stack.fake.responses.some((r) => r.id === 'r1'), 'the answer on the response_url');
      // A modal submission carries no response_url: a direct message is left.
      await stack.interact(
        viewSubmission('v1:image-modal', JSON.stringify({ kind: 'animate', channelId: 'C9', options: {} }), {
          images: { files: { type: 'file_input', files: [star] } },
          prompt: { text: { type: 'plain_text_input', value: 'a yellow star moves up' } },
        }),
      );
      await stack.fake.waitFor(() => dms().length > dmsBefore, 'the direct message');
    } finally {
      stack.fake.setChannels(undefined);
    }

    const answer = stack.fake.responses.find((r) => r.id === 'r1')?.body;
    expect(answer).toMatchObject({ response_type: 'ephemeral' });
    expect(String(answer?.['text'])).toContain('invite me with `/invite @pusa`');
    expect(String(dms().at(-1)?.args['text'])).toContain('invite me with `/invite @pusa`');
    expect(
      stack.fake.callsOf('chat.postMessage').filter((c) => c.args['channel'] === 'C9' && c.result?.['ok']),
    ).toEqual([]);
  });

  /** The ephemeral answers (their texts) to one user, in order. */
  const answersTo = (user: string) =>
    stack.fake
      .callsOf('chat.postEphemeral')
      .filter((c) => c.args['user'] === user)
      .map((c) => String(c.args['text']));

  it('resolves the requester once per event, in the middleware, whatever the listener needs of it', async () => {
    const identify = stack.service.frontEnd.identify;
    const resolved: string[] = [];
    stack.service.frontEnd.identify = (who) => {
      resolved.push(`${who.user.externalId}@${who.workspace.externalId}`);
      return identify(who);
    };
    try {
      await stack.command(slashCommand('/quota', '', { user: 'U5' }));
      await placeholderAfter(stack, () => stack.command(slashCommand('/t2v', `a dot ${FAST}`, { user: 'U5' })));
      await stack.interact(messageAction('v1:extend-clip', { ts: '1.5', text: 'not a clip' }, 'U5'));
      await stack.fake.waitFor(() => answersTo('U5').length >= 2, 'the quota and the refusal');
    } finally {
      stack.service.frontEnd.identify = identify;
    }

    expect(resolved).toEqual(['U5@T1', 'U5@T1', 'U5@T1']);
  });

  it('answers what a listener throws once, through app.error: unavailable as such, a bug with a logged id', async () => {
    const quota = stack.service.frontEnd.quota;
    const failWith = (error: Error) => {
      stack.service.frontEnd.quota = async () => {
        throw error;
      };
    };
    try {
      failWith(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
      await stack.command(slashCommand('/quota', '', { user: 'U6' }));
      await stack.fake.waitFor(() => answersTo('U6').length >= 1, 'the answer to the unavailable store');
      failWith(new TypeError("Cannot read properties of undefined (reading 'usedSeconds')"));
      await stack.command(slashCommand('/quota', '', { user: 'U6' }));
      await stack.fake.waitFor(() => answersTo('U6').length >= 2, 'the answer to the bug');
      stack.service.frontEnd.quota = quota;
      await stack.command(slashCommand('/quota', '', { user: 'U6' }));
      await stack.fake.waitFor(() => answersTo('U6').length >= 3, 'the answer once it works');
    } finally {
      stack.service.frontEnd.quota = quota;
    }

    const [unavailable, bug, works] = answersTo('U6');
    expect(unavailable).toMatch(
      /^⚠️ The service is temporarily unavailable; .*try again in a minute\. \(request `[0-9a-f-]{36}`\)$/,
    );
    expect(bug).toMatch(/^⚠️ Something went wrong on our side; nothing was charged \(request `([0-9a-f-]{36})`\)$/);
    const errorId = /request `([0-9a-f-]{36})`/.exec(bug ?? '')?.[1];
    expect(stack.log.some((l) => l.startsWith('WARN slack handler failed') && l.includes(errorId ?? '?'))).toBe(true);
    expect(works).toMatch(/^📊 Today/u);
    expect(answersTo('U6')).toHaveLength(3);
  });

  it('refuses an /animate prompt longer than the form holds, before opening the form', async () => {
    const opened = stack.fake.callsOf('views.open').length;

    await stack.command(slashCommand('/animate', 'a star '.repeat(80), { user: 'U7' }));
    await stack.fake.waitFor(() => answersTo('U7').length >= 1, 'the refusal');

    expect(answersTo('U7')[0]).toContain('Prompts are at most 500 characters; this one has 559');
    expect(stack.fake.callsOf('views.open')).toHaveLength(opened);
  });

  it('keeps private_metadata short when the options are long: the form opens and its options come back', async () => {
    const star = stack.fake.addFile({
      id: 'FLONG',
      name: 'star.png',
      mimetype: 'image/png',
      bytes: await sample('yellow-star.png'),
    });
    const views = stack.fake.views.length;
    const negative = 'blurry, '.repeat(400).trim();

    await stack.command(slashCommand('/animate', `--negative "${negative}" ${FAST} a yellow star`, { user: 'U8' }));
    await stack.fake.waitFor(() => stack.fake.views.length > views, 'the form');
    const view = stack.fake.views.at(-1) as { private_metadata: string };
    await stack.interact(
      viewSubmission(
        'v1:image-modal',
        view.private_metadata,
        {
          images: { files: { type: 'file_input', files: [star] } },
          prompt: { text: { type: 'plain_text_input', value: 'a yellow star moves up' } },
        },
        'U8',
      ),
    );
    await stack.fake.waitFor(() => answersTo('U8').length >= 1, 'the answer to the submission');

    expect(view.private_metadata.length).toBeLessThan(200);
    expect(view.private_metadata).not.toContain('blurry');
    // The negative prompt came back from the form's record: the core refuses it for its length, naming it.
    expect(answersTo('U8')[0]).toMatch(/NegativePrompt: .*500 characters/);
  });

  it('acknowledged every request within 3 s', () => {
    expect(stack.ackMs.length).toBeGreaterThan(5);
    expect(Math.max(...stack.ackMs)).toBeLessThan(3000);
  });
});

describe('Slack front end over Socket Mode', () => {
  let stack: SlackStack;
  beforeAll(async () => {
    stack = await startSlackStack({ socketMode: true });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('connects through apps.connections.open and runs /t2v to the uploaded clip', async () => {
    let res: Awaited<ReturnType<SlackStack['command']>> | undefined;
    const ts = await placeholderAfter(stack, async () => {
      res = await stack.command(slashCommand('/t2v', `a red circle moves right ${FAST}`));
    });

    expect(res?.ms).toBeLessThan(3000);
    expect(stack.fake.callsOf('apps.connections.open').length).toBeGreaterThan(0);
    expect((await resultAt(stack, ts, 'the upload')).upload.channel).toBe('C1');
  });

  it('takes interactive payloads over the socket too: a modal submission with a file', async () => {
    const star = stack.fake.addFile({
      id: 'FSOCK',
      name: 'star.png',
      mimetype: 'image/png',
      bytes: await sample('yellow-star.png'),
    });
    let res: Awaited<ReturnType<SlackStack['interact']>> | undefined;
    const ts = await placeholderAfter(stack, async () => {
      res = await stack.interact(
        viewSubmission(
          'v1:image-modal',
          JSON.stringify({ kind: 'animate', channelId: 'C2', options: { steps: 4, frames: 17 } }),
          {
            images: { files: { type: 'file_input', files: [star] } },
            prompt: { text: { type: 'plain_text_input', value: 'a yellow star moves up' } },
          },
        ),
      );
    });

    expect(res?.ms).toBeLessThan(3000);
    expect((await resultAt(stack, ts, 'the clip')).upload.channel).toBe('C2');
  });
});

describe('Slack /admin', () => {
  let stack: SlackStack;
  beforeAll(async () => {
    stack = await startSlackStack({ env: { SLACK_ADMIN_USER_IDS: 'UADMIN' } });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('is refused to members and lets admins pause, resume, set quotas, ban and block', async () => {
    const answer = async (text: string, user: string) => {
      const before = ephemerals(stack).length;
      await stack.command(slashCommand('/admin', text, { user }));
      await stack.fake.waitFor(() => ephemerals(stack).length > before, `the answer to /admin ${text}`);
      return ephemerals(stack).at(-1) as string;
    };

    expect(await answer('pause', 'U1')).toMatch(/only workspace admins/i);
    expect(await answer('pause', 'UADMIN')).toContain('queue paused');
    expect(await stack.service.generate.isPaused()).toBe(true);
    expect(await answer('resume', 'UADMIN')).toContain('queue resumed');
    expect(await stack.service.generate.isPaused()).toBe(false);
    expect(await answer('quota <@U7|grace> 30', 'UADMIN')).toContain('daily quota of <@U7|grace> set to 30 GPU s');
    const grace = await stack.service.store.ensureUser({ platform: 'slack', externalId: 'U7', displayName: 'U7' });
    expect(grace.dailyGpuSeconds).toBe(30);
    expect(await answer('ban <@U8> spamming', 'UADMIN')).toContain('banned');
    expect(await answer('block forbidden', 'UADMIN')).toContain('prompts containing "forbidden" are now refused');
    expect(await answer('frobnicate', 'UADMIN')).toMatch(/usage: \/admin/i);

    const banned = ephemerals(stack).length;
    await stack.command(slashCommand('/t2v', 'a red circle --steps 2', { user: 'U8' }));
    await stack.command(slashCommand('/t2v', 'a forbidden circle --steps 2', { user: 'U1' }));
    await stack.fake.waitFor(() => ephemerals(stack).length >= banned + 2, 'two refusals');
    const refusals = ephemerals(stack).slice(banned).join('\n');
    expect(refusals).toMatch(/not allowed to generate/);
    expect(refusals).toMatch(/forbidden/);
  });
});
