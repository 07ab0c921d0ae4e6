import { randomUUID } from 'node:crypto';
import type { App, types } from '@slack/bolt';
import {
  type CommandOptions,
  LIMITS,
  type LongOptions,
  longAsk,
  STORYBOARD_MAX_CHARS,
  UserError,
} from '../../commands/index.ts';
import type { SubmitInput } from '../core/front-end.ts';
import type { SlackConfig } from './config.ts';
import { downloadSlackFile, type SlackFileLike } from './download.ts';
import type { Client, SlackKit } from './kit.ts';
import { type ModalPlace, requesterIn } from './requester.ts';

const IMAGE_MODAL = 'v1:image-modal';
const REMIX_MODAL = 'v1:remix-modal';
const LONG_MODAL = 'v1:long-modal';
/** Slack's plain-text input holds at most 3,000 characters (Block Kit; dev/slack/block-kit.ts). */
const STORYBOARD_INPUT_MAX = Math.min(3000, STORYBOARD_MAX_CHARS);

/**
 * How long a form's options are kept for its submission. Slack keeps a modal open until the user closes it; a day
 * covers any form a person still means to send.
 */
const FORM_TTL_SECONDS = 86_400;

/**
 * The image modal's private_metadata: the place, and the files chosen already (the "Animate this image" shortcut
 * gives one); otherwise the modal's file_input. Slack caps private_metadata at 3,000 characters, so what grows with
 * the user's text (the command's options: a negative prompt, motion values) is kept by the service under `form`.
 */
interface ImageModalMeta extends ModalPlace {
  kind: 'animate' | 'keyframes';
  fileIds?: string[];
  form?: string;
  /** The options inline: only in modals opened by a version before `form`; still accepted. */
  options?: CommandOptions;
}
const formKey = (form: string) => `slack:form:${form}`;

/** Opens the `/animate` or `/keyframes` form (or the shortcut's, with its image chosen). */
export async function openImageModal(
  kit: SlackKit,
  client: Client,
  triggerId: string,
  input: {
    kind: ImageModalMeta['kind'];
    place: ModalPlace;
    fileIds?: string[];
    options: CommandOptions;
    prompt: string;
  },
): Promise<void> {
  const form = randomUUID();
  await kit.service.remember(formKey(form), JSON.stringify(input.options), FORM_TTL_SECONDS);
  const meta: ImageModalMeta = {
    ...input.place,
    kind: input.kind,
    ...(input.fileIds === undefined ? {} : { fileIds: input.fileIds }),
    form,
  };
  await client.views.open({ trigger_id: triggerId, view: imageModal(meta, input.prompt, kit.config) });
}

/** Opens the Remix form of a clip, its prompt filled in. */
export async function openRemixModal(
  client: Client,
  triggerId: string,
  input: { clipId: string; place: ModalPlace; prompt: string },
): Promise<void> {
  await client.views.open({
    trigger_id: triggerId,
    view: {
      type: 'modal',
      callback_id: REMIX_MODAL,
      private_metadata: JSON.stringify({ ...input.place, clipId: input.clipId }),
      title: { type: 'plain_text', text: 'Remix' },
      submit: { type: 'plain_text', text: 'Generate' },
      blocks: [promptInput(input.prompt)],
    },
  });
}

/** Opens `/long`'s form: a storyboard, one prompt per line (one per segment), and an optional start image. */
export async function openStoryboardModal(
  kit: SlackKit,
  client: Client,
  triggerId: string,
  input: { place: ModalPlace; options: LongOptions },
): Promise<void> {
  const form = randomUUID();
  await kit.service.remember(formKey(form), JSON.stringify(input.options), FORM_TTL_SECONDS);
  const mb = Math.floor(kit.config.SLACK_DOWNLOAD_MAX_BYTES / 1024 / 1024);
  await client.views.open({
    trigger_id: triggerId,
    view: {
      type: 'modal',
      callback_id: LONG_MODAL,
      private_metadata: JSON.stringify({ ...input.place, form }),
      title: { type: 'plain_text', text: 'Long video' },
      submit: { type: 'plain_text', text: 'Generate' },
      blocks: [
        {
          type: 'input',
          block_id: 'storyboard',
          label: { type: 'plain_text', text: 'Storyboard: one prompt per line, one line per segment' },
          hint: {
            type: 'plain_text',
            text: 'One line with --seconds or --segments on the command is one prompt for the whole video.',
          },
          element: {
            type: 'plain_text_input',
            action_id: 'text',
            multiline: true,
            max_length: STORYBOARD_INPUT_MAX,
          },
        },
        {
          type: 'input',
          block_id: 'images',
          optional: true,
          label: { type: 'plain_text', text: `Start image (PNG, JPEG or WebP, up to ${mb} MB)` },
          element: { type: 'file_input', action_id: 'files', filetypes: ['png', 'jpg', 'jpeg', 'webp'], max_files: 1 },
        },
      ],
    },
  });
}

export function registerViews(app: App, kit: SlackKit): void {
  const { service, config, startJob, made, actor } = kit;
  const manifest = service.pack.manifest;

  /** A chosen file's bytes. Always asks Slack about it: its download address comes from Slack, not the payload. */
  const download = async (client: Client, file: SlackFileLike): Promise<{ bytes: Buffer; name?: string }> => {
    const info = await client.files.info({ file: file.id ?? '' }).catch(() => {
      throw new UserError('NotFound', `${file.name ?? file.id} is not visible to me; is files:read granted?`);
    });
    const described = info.file as SlackFileLike;
    const bytes = await downloadSlackFile(kit.fetch, described, config.SLACK_BOT_TOKEN, {
      origins: config.SLACK_FILE_ORIGINS,
      maxBytes: config.SLACK_DOWNLOAD_MAX_BYTES,
      timeoutMs: config.SLACK_DOWNLOAD_TIMEOUT_MS,
    });
    return { bytes, ...(described.name === undefined ? {} : { name: described.name }) };
  };

  /** The form's options: kept by the service; inline in a modal opened by a version before the 3,000 cap was kept. */
  const optionsOf = async (meta: ImageModalMeta): Promise<CommandOptions> => {
    if (meta.options !== undefined) return meta.options;
    const kept = meta.form === undefined ? undefined : await service.recall(formKey(meta.form));
    if (kept === undefined) throw new UserError('NotFound', `this form has expired; run /${meta.kind} again`);
    return JSON.parse(kept) as CommandOptions;
  };

  app.view(IMAGE_MODAL, async ({ ack, view, client, context }) => {
    const meta = JSON.parse(view.private_metadata) as ImageModalMeta;
    const values = view.state.values;
    const picked: SlackFileLike[] = meta.fileIds?.map((id) => ({ id })) ?? values['images']?.['files']?.files ?? [];
    const prompt = values['prompt']?.['text']?.value ?? '';
    const tooBig = picked.find((f) => (f.size ?? 0) > config.SLACK_DOWNLOAD_MAX_BYTES);
    if (picked.length === 0 || tooBig !== undefined) {
      const mb = (config.SLACK_DOWNLOAD_MAX_BYTES / 1024 / 1024).toFixed(0);
      await ack({
        response_action: 'errors',
        errors: {
          images:
            tooBig === undefined
              ? 'Choose an image'
              : `${tooBig.name ?? 'That file'} is over ${mb} MB; choose a smaller image`,
        },
      });
      return;
    }
    await ack();
    const options = await optionsOf(meta);
    const images: { bytes: Buffer; name?: string }[] = [];
    for (const file of picked) images.push(await download(client, file));
    const frames = options.frames ?? manifest.video.defaultFrames;
    const last = (frames - 1) / manifest.latent.temporalFactor;
    const request: SubmitInput['request'] =
      meta.kind === 'animate'
        ? { task: 'i2v', ...options, prompt, images: images.slice(0, 1) }
        : {
            task: 'keyframes',
            ...options,
            prompt,
            images: images.map((image, i) => ({
              ...image,
              latentIndex: images.length === 1 ? 0 : Math.round((i * last) / (images.length - 1)),
            })),
          };
    await startJob(client, requesterIn(context), `slack:view:${view.id}`, request);
  });

  app.view(LONG_MODAL, async ({ ack, view, client, context }) => {
    const meta = JSON.parse(view.private_metadata) as ModalPlace & { form: string };
    const picked: SlackFileLike[] = view.state.values['images']?.['files']?.files ?? [];
    const tooBig = picked.find((f) => (f.size ?? 0) > config.SLACK_DOWNLOAD_MAX_BYTES);
    if (tooBig !== undefined) {
      const mb = (config.SLACK_DOWNLOAD_MAX_BYTES / 1024 / 1024).toFixed(0);
      await ack({
        response_action: 'errors',
        errors: { images: `${tooBig.name ?? 'That file'} is over ${mb} MB; choose a smaller image` },
      });
      return;
    }
    await ack();
    const kept = await service.recall(formKey(meta.form));
    if (kept === undefined) throw new UserError('NotFound', 'this form has expired; run /long again');
    const options = JSON.parse(kept) as LongOptions;
    const file = picked[0];
    const image = file === undefined ? undefined : await download(client, file);
    await kit.startLong(client, requesterIn(context), `slack:view:${view.id}`, {
      ...longAsk(options, { storyboard: view.state.values['storyboard']?.['text']?.value ?? '' }),
      ...(image === undefined ? {} : { image }),
    });
  });

  app.view(REMIX_MODAL, async ({ ack, view, client, context }) => {
    await ack();
    const who = requesterIn(context);
    const meta = JSON.parse(view.private_metadata) as ModalPlace & { clipId: string };
    const prompt = view.state.values['prompt']?.['text']?.value ?? '';
    const { request, derivedFrom } = await made(
      service.frontEnd.remake({ clipId: meta.clipId }, await actor(who), { kind: 'remix', prompt }),
    );
    await startJob(client, who, `slack:view:${view.id}`, request, derivedFrom);
  });
}

function promptInput(initial: string): types.KnownBlock {
  return {
    type: 'input',
    block_id: 'prompt',
    label: { type: 'plain_text', text: 'Prompt' },
    element: {
      type: 'plain_text_input',
      action_id: 'text',
      max_length: LIMITS.promptLength,
      ...(initial === '' ? {} : { initial_value: initial }),
    },
  };
}

function imageModal(meta: ImageModalMeta, prompt: string, config: SlackConfig): types.ModalView {
  const mb = Math.floor(config.SLACK_DOWNLOAD_MAX_BYTES / 1024 / 1024);
  return {
    type: 'modal',
    callback_id: IMAGE_MODAL,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: meta.kind === 'animate' ? 'Animate an image' : 'Keyframes' },
    submit: { type: 'plain_text', text: 'Generate' },
    blocks: [
      ...(meta.fileIds === undefined
        ? [
            {
              type: 'input' as const,
              block_id: 'images',
              label: {
                type: 'plain_text' as const,
                text:
                  meta.kind === 'animate'
                    ? `Image (PNG, JPEG or WebP, up to ${mb} MB)`
                    : `Keyframes in order, first to last (up to 8, ${mb} MB each)`,
              },
              element: {
                type: 'file_input' as const,
                action_id: 'files',
                filetypes: ['png', 'jpg', 'jpeg', 'webp'],
                max_files: meta.kind === 'animate' ? 1 : 8,
              },
            },
          ]
        : []),
      promptInput(prompt),
    ],
  };
}
