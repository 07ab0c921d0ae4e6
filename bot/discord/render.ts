import { type APIActionRowComponent, type APIButtonComponent, ButtonStyle, ComponentType } from 'discord.js';
import { Action, customId } from './custom-id.ts';

type Row = APIActionRowComponent<APIButtonComponent>;

const button = (
  label: string,
  action: Action,
  id: string,
  style: ButtonStyle.Primary | ButtonStyle.Secondary | ButtonStyle.Danger = ButtonStyle.Secondary,
): APIButtonComponent => ({
  type: ComponentType.Button,
  style,
  label,
  custom_id: customId(action, id),
});

/** The Cancel button of a queued or running job. */
export const cancelRow = (jobId: string): Row => ({
  type: ComponentType.ActionRow,
  components: [button('Cancel', Action.Cancel, jobId, ButtonStyle.Danger)],
});

/** Extend, Re-roll, Remix, Info and Delete under a result; ids only, state lives in the database. */
export const resultRow = (jobId: string, clipId: string): Row => ({
  type: ComponentType.ActionRow,
  components: [
    button('Extend', Action.Extend, clipId, ButtonStyle.Primary),
    button('Re-roll', Action.Reroll, jobId),
    button('Remix', Action.Remix, jobId),
    button('Info', Action.Info, jobId),
    button('Delete', Action.Delete, jobId, ButtonStyle.Danger),
  ],
});

const quote = (prompt: string) => `“${prompt.length > 120 ? `${prompt.slice(0, 119)}…` : prompt}”`;

export function queuedText(o: { prompt: string; position: number; etaSeconds: number; requestId: string }): string {
  return `⏳ Queued ${quote(o.prompt)} · position ${o.position} · ETA ~${formatSeconds(o.etaSeconds)}\n-# request ${o.requestId}`;
}

/**
 * A running job's bar. For a /long chain the bar is the whole chain's (segments done plus this one's steps), with
 * which segment this is; the ETA is then the chain's, and the last finished segment is named (it is attached).
 */
export function progressText(o: {
  prompt: string;
  step: number;
  total: number;
  etaMs: number;
  segment?: { index: number; count: number } | undefined;
  landed?: number | undefined;
}): string {
  const width = 12;
  const fraction =
    o.segment === undefined
      ? o.step / Math.max(1, o.total)
      : (o.segment.index - 1 + o.step / Math.max(1, o.total)) / o.segment.count;
  const filled = Math.round(fraction * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const where = o.segment === undefined ? '' : `segment ${o.segment.index} of ${o.segment.count} · `;
  const landed = o.landed === undefined ? '' : `\n-# segment ${o.landed} is attached; the whole clip follows`;
  return `🎬 ${quote(o.prompt)}\n\`${bar}\` ${where}step ${o.step}/${o.total} · ETA ~${formatSeconds(o.etaMs / 1000)}${landed}`;
}

/** What a /long message is called: its prompt, or its storyboard's prompts in order. */
export const longLabel = (r: { prompt?: string; storyboard?: string[] }) =>
  r.prompt ?? (r.storyboard ?? []).join(' → ');

export function longQueuedText(o: {
  prompt: string;
  segments: number;
  seconds: number;
  totalFrames: number;
  seed: number;
  position: number;
  etaSeconds: number;
  requestId: string;
}): string {
  return `⏳ Queued ${quote(o.prompt)} · ${o.segments} segments, ${o.totalFrames} frames (${formatSeconds(o.seconds)}) · seed ${o.seed} · position ${o.position} · ETA ~${formatSeconds(o.etaSeconds)}\n-# request ${o.requestId}`;
}

/** A /long segment that just landed, its MP4 attached to the job's message. */
export function segmentText(o: { prompt: string; index: number; count: number; segmentPrompt: string }): string {
  return `🎬 ${quote(o.prompt)}\n🧩 segment ${o.index} of ${o.count} done: ${quote(o.segmentPrompt)} (attached)`;
}

/** The /long part of a result: how many segments were joined, and why it stopped early if it did. */
export function longNote(long: { segments: number; of: number; stopped?: { reason: string; message: string } }) {
  if (long.stopped === undefined) return ` · ${long.segments} segments`;
  return ` · ${long.segments} of ${long.of} segments (${long.stopped.reason === 'cancelled' ? 'cancelled' : `stopped: ${long.stopped.message}`}; only those were charged)`;
}

export function resultText(o: { prompt: string; seed: number; frames: number; gpuSeconds: number; userId?: string }) {
  return `✅ ${o.userId === undefined ? '' : `<@${o.userId}> `}${quote(o.prompt)} · seed ${o.seed} · ${o.frames} frames · ${o.gpuSeconds.toFixed(1)} s GPU`;
}

/**
 * `allowed_mentions` for every message the bot sends: text from a prompt may contain `@everyone`, `@here`, a role or
 * a member, and none of them is notified. A message that means to notify someone lists them (`users: [id]`).
 */
export const NO_MENTIONS = { parse: [] as never[] };

/** Discord's limit on a message's `content`. */
export const MESSAGE_LIMIT = 2000;

/**
 * As many whole lines as fit in one message, then a last line saying how many were left out (`more` gets that
 * number). Lines are never cut, so the ids and links in them stay whole.
 */
export function fitLines(lines: string[], more: (left: number) => string, limit = MESSAGE_LIMIT): string {
  let text = '';
  for (const [index, line] of lines.entries()) {
    const after = lines.length - index - 1;
    // Room is kept for the note about the lines after this one, so the note always fits.
    const reserve = after > 0 ? 1 + more(after).length : 0;
    const next = text === '' ? line : `${text}\n${line}`;
    if (next.length + reserve > limit) {
      const note = more(lines.length - index);
      return text === '' ? note : `${text}\n${note}`;
    }
    text = next;
  }
  return text;
}

/** An error as the user sees it: what went wrong, and the request id to quote when asking for help. */
export const errorText = (message: string, requestId: string) => `⚠️ ${message}\n-# request ${requestId}`;

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
}

/** A clip too big to upload here even at the lowest quality: what it is and where it stays. */
export const overLimitText = (bytes: number, clipId: string) =>
  `📦 The clip is ${(bytes / 1024 / 1024).toFixed(1)} MiB, over this channel's upload limit even at the lowest quality, so it is not attached; it is kept as clip \`${clipId}\` (Extend and Info below work on it).`;
