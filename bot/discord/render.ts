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

export function progressText(o: { prompt: string; step: number; total: number; etaMs: number }): string {
  const width = 12;
  const filled = Math.round((o.step / Math.max(1, o.total)) * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  return `🎬 ${quote(o.prompt)}\n\`${bar}\` step ${o.step}/${o.total} · ETA ~${formatSeconds(o.etaMs / 1000)}`;
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
