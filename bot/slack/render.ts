import type { types } from '@slack/bolt';

type KnownBlock = types.KnownBlock;

/** Stateless button ids: `v1:<action>`, the clip in the value, so buttons work after a restart (state is in the DB). */
export const ACTION = {
  extend: 'v1:extend',
  reroll: 'v1:reroll',
  remix: 'v1:remix',
  info: 'v1:info',
  delete: 'v1:delete',
  cancel: 'v1:cancel',
} as const;
export type ActionId = (typeof ACTION)[keyof typeof ACTION];

/** What a result's buttons carry (Block Kit values are at most 2,000 characters). */
export interface ClipButtonValue {
  clipId: string;
  jobId: string;
  /** The uploaded file, for Delete. */
  fileId?: string;
}

const text = (s: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text: s } });

/** `▰▰▰▱▱▱▱▱▱▱` for a fraction in [0, 1]. */
export function progressBar(fraction: number, width = 10): string {
  const done = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `${'▰'.repeat(done)}${'▱'.repeat(width - done)}`;
}

export function queuedMessage(input: { prompt: string; position: number; etaSeconds: number; jobId: string }) {
  const line = `⏳ Queued · position ${input.position} · ETA ~${input.etaSeconds} s`;
  return {
    text: `${line}: ${input.prompt}`,
    blocks: [
      text(`*${escapeMrkdwn(input.prompt)}*\n${line}`),
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: ACTION.cancel,
            text: { type: 'plain_text', text: 'Cancel' },
            value: input.jobId,
            style: 'danger',
          },
        ],
      },
    ] satisfies KnownBlock[],
  };
}

export function progressMessage(input: { prompt: string; step: number; total: number; etaMs: number; jobId: string }) {
  const line = `${progressBar(input.step / Math.max(1, input.total))} step ${input.step}/${input.total} · ETA ~${Math.ceil(input.etaMs / 1000)} s`;
  return {
    text: `🎬 ${line}`,
    blocks: [
      text(`*${escapeMrkdwn(input.prompt)}*\n🎬 ${line}`),
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: ACTION.cancel,
            text: { type: 'plain_text', text: 'Cancel' },
            value: input.jobId,
            style: 'danger',
          },
        ],
      },
    ] satisfies KnownBlock[],
  };
}

export function resultMessage(input: { prompt: string; frames: number; gpuSeconds: number; value: ClipButtonValue }) {
  const value = JSON.stringify(input.value);
  const button = (actionId: ActionId, label: string) => ({
    type: 'button' as const,
    action_id: actionId,
    text: { type: 'plain_text' as const, text: label },
    value,
  });
  return {
    text: `✅ Done: ${input.prompt}`,
    blocks: [
      text(
        `*${escapeMrkdwn(input.prompt)}*\n✅ ${input.frames} frames · ${input.gpuSeconds.toFixed(1)} GPU s · clip \`${input.value.clipId}\` (in the thread)`,
      ),
      {
        type: 'actions',
        elements: [
          button(ACTION.extend, '⏩ Extend'),
          button(ACTION.reroll, '🔁 Re-roll'),
          button(ACTION.remix, '✏️ Remix'),
          button(ACTION.info, 'ℹ️ Info'),
          { ...button(ACTION.delete, '🗑️ Delete'), style: 'danger' as const },
        ],
      },
    ] satisfies KnownBlock[],
  };
}

export function endedMessage(prompt: string, line: string) {
  return { text: line, blocks: [text(`*${escapeMrkdwn(prompt)}*\n${line}`)] satisfies KnownBlock[] };
}

/** Slack's three mrkdwn control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A user-safe refusal with the request id, so a log line can be matched to the report. */
export function errorText(message: string, requestId: string): string {
  return `⚠️ ${message.charAt(0).toUpperCase()}${message.slice(1)} (request \`${requestId}\`)`;
}

/** Parses a result button's value; null when it is not one of ours. */
export function parseButtonValue(value: string | undefined): ClipButtonValue | null {
  if (value === undefined) return null;
  try {
    const v = JSON.parse(value) as Partial<ClipButtonValue>;
    if (typeof v.clipId !== 'string' || typeof v.jobId !== 'string') return null;
    return { clipId: v.clipId, jobId: v.jobId, ...(typeof v.fileId === 'string' ? { fileId: v.fileId } : {}) };
  } catch {
    return null;
  }
}
