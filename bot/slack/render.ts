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

/** The Cancel button row of a queued or running job. */
function cancelActions(jobId: string): KnownBlock {
  return {
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: ACTION.cancel,
        text: { type: 'plain_text', text: 'Cancel' },
        value: jobId,
        style: 'danger',
      },
    ],
  };
}

export function queuedMessage(input: {
  prompt: string;
  position: number;
  etaSeconds: number;
  jobId: string;
  /** What a /long chain will make (segments, frames, seed). */
  line?: string;
}) {
  const line = `⏳ Queued${input.line === undefined ? '' : ` ${input.line}`} · position ${input.position} · ETA ~${input.etaSeconds} s`;
  return {
    text: `${line}: ${escapeMrkdwn(input.prompt)}`,
    blocks: [text(`*${escapeMrkdwn(input.prompt)}*\n${line}`), cancelActions(input.jobId)] satisfies KnownBlock[],
  };
}

/** Square emoji with their approximate colours: Slack shows no image without a public URL, but it shows these. */
const SWATCHES: readonly [string, number, number, number][] = [
  ['🟥', 221, 46, 68],
  ['🟧', 244, 144, 12],
  ['🟨', 253, 203, 88],
  ['🟩', 120, 177, 89],
  ['🟦', 85, 172, 238],
  ['🟪', 170, 142, 214],
  ['🟫', 193, 105, 79],
  ['⬛', 49, 55, 61],
  ['⬜', 230, 231, 232],
];

/**
 * The worker's latent preview (RGB bytes, base64) as a small grid of coloured square emoji, `cells × cells`: each
 * cell averages its block of pixels and takes the nearest swatch. Enough to see the shape and where it moves.
 */
export function emojiPreview(preview: { width: number; height: number; rgbBase64: string }, cells = 8): string {
  const rgb = Buffer.from(preview.rgbBase64, 'base64');
  const rows: string[] = [];
  for (let cy = 0; cy < cells; cy++) {
    let row = '';
    for (let cx = 0; cx < cells; cx++) {
      const sum = [0, 0, 0];
      let n = 0;
      for (
        let y = Math.floor((cy * preview.height) / cells);
        y < Math.floor(((cy + 1) * preview.height) / cells);
        y++
      ) {
        for (
          let x = Math.floor((cx * preview.width) / cells);
          x < Math.floor(((cx + 1) * preview.width) / cells);
          x++
        ) {
          for (let c = 0; c < 3; c++) sum[c] = (sum[c] ?? 0) + (rgb[(y * preview.width + x) * 3 + c] ?? 0);
          n++;
        }
      }
      const [r, g, b] = sum.map((v) => v / Math.max(1, n)) as [number, number, number];
      let best = SWATCHES[0] as (typeof SWATCHES)[number];
      let bestDistance = Number.POSITIVE_INFINITY;
      for (const swatch of SWATCHES) {
        const d = (swatch[1] - r) ** 2 + (swatch[2] - g) ** 2 + (swatch[3] - b) ** 2;
        if (d < bestDistance) {
          best = swatch;
          bestDistance = d;
        }
      }
      row += best[0];
    }
    rows.push(row);
  }
  return rows.join('\n');
}

export function progressMessage(input: {
  prompt: string;
  step: number;
  total: number;
  etaMs: number;
  jobId: string;
  preview?: { width: number; height: number; rgbBase64: string } | undefined;
  /** A /long chain: which segment this is (the bar and the ETA are then the chain's), and the last one posted. */
  segment?: { index: number; count: number } | undefined;
  landed?: number | undefined;
}) {
  const { segment } = input;
  const fraction =
    segment === undefined
      ? input.step / Math.max(1, input.total)
      : (segment.index - 1 + input.step / Math.max(1, input.total)) / segment.count;
  const where = segment === undefined ? '' : `segment ${segment.index} of ${segment.count} · `;
  const landed = input.landed === undefined ? '' : ` · segment ${input.landed} is in the thread`;
  const line = `${progressBar(fraction)} ${where}step ${input.step}/${input.total} · ETA ~${Math.ceil(input.etaMs / 1000)} s${landed}`;
  const preview = input.preview === undefined ? '' : `\n${emojiPreview(input.preview)}`;
  return {
    text: `🎬 ${line}`,
    blocks: [
      text(`*${escapeMrkdwn(input.prompt)}*\n🎬 ${line}${preview}`),
      cancelActions(input.jobId),
    ] satisfies KnownBlock[],
  };
}

/** What a /long message is called: its prompt, or its storyboard's prompts in order. */
export const longLabel = (r: { prompt?: string; storyboard?: string[] }) =>
  r.prompt ?? (r.storyboard ?? []).join(' → ');

/** The /long part of a result: the segments joined, why it stopped early if it did, and a clip too big to upload. */
export function longNote(
  long: { segments: number; of: number; stopped?: { reason: string; message: string }; overLimit?: boolean },
  bytes: number,
): string {
  const made =
    long.stopped === undefined
      ? ` · ${long.segments} segments`
      : ` · ${long.segments} of ${long.of} segments (${long.stopped.reason === 'cancelled' ? 'cancelled' : `stopped: ${escapeMrkdwn(long.stopped.message)}`}; only those were charged)`;
  const over =
    long.overLimit === true
      ? `\n📦 The clip is ${(bytes / 1024 / 1024).toFixed(1)} MiB, over the upload limit even at the lowest quality, so it is not uploaded; its segments are in the thread`
      : '';
  return `${made}${over}`;
}

/** A /long segment posted in the job's thread as it lands. */
export const segmentComment = (index: number, count: number, prompt: string) =>
  `🧩 Segment ${index} of ${count}: ${escapeMrkdwn(prompt.slice(0, 200))}`;

export function resultMessage(input: {
  prompt: string;
  frames: number;
  gpuSeconds: number;
  value: ClipButtonValue;
  /** A /long result's note (`longNote`), and whether its clip was uploaded (not when over the limit). */
  note?: string;
  uploaded?: boolean;
}) {
  const value = JSON.stringify(input.value);
  const button = (actionId: ActionId, label: string) => ({
    type: 'button' as const,
    action_id: actionId,
    text: { type: 'plain_text' as const, text: label },
    value,
  });
  return {
    text: `✅ Done: ${escapeMrkdwn(input.prompt)}`,
    blocks: [
      text(
        `*${escapeMrkdwn(input.prompt)}*\n✅ ${input.frames} frames · ${input.gpuSeconds.toFixed(1)} GPU s · clip \`${input.value.clipId}\`${input.uploaded === false ? '' : ' (in the thread)'}${input.note ?? ''}`,
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

/**
 * Slack's three mrkdwn control characters, as Slack's own escaping rules have them: user text escaped this way shows
 * as typed, so `<!channel>`, `<!here>`, `<@U…>` and a disguised `<https://…|label>` link in a prompt notify nobody
 * and link nowhere. Every text of ours that carries user input goes through it (`text` fallbacks too: Slack parses
 * those for notifications).
 */
export function escapeMrkdwn(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A user-safe refusal with the request id, so a log line can be matched to the report. */
export function errorText(message: string, requestId: string): string {
  // Refusals may quote the user's input (a blocked word, an option value): escaped like any user text.
  const safe = escapeMrkdwn(message);
  return `⚠️ ${safe.charAt(0).toUpperCase()}${safe.slice(1)} (request \`${requestId}\`)`;
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
