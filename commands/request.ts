import { z } from 'zod';
import { type Parsed, UserError } from './errors.ts';

/** The tasks a user can ask for; every one is the same sampler with a different conditioning plan. */
export const Task = z.enum(['t2v', 'i2v', 'start-end', 'keyframes', 'extend', 'transition']);
export type Task = z.infer<typeof Task>;

/** Limits on what users may set. Model packs narrow frames and sizes further. */
export const LIMITS = {
  promptLength: 500,
  steps: { min: 1, max: 50 },
  guidance: { min: 0, max: 20 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  images: { max: 8 },
} as const;

const Multiplier = z
  .number()
  .min(0, 'noise multipliers are between 0 and 1')
  .max(1, 'noise multipliers are between 0 and 1');

/** A reference to an input stored beside the job (normalised image bytes or a clip's latents), by key. */
export const InputRef = z.object({ key: z.string().min(1).max(200), latentIndex: z.int().min(0).optional() });
export type InputRef = z.infer<typeof InputRef>;

/**
 * A clip to continue: an earlier result of ours (by clip id) resolved to its stored latents and its MP4, which the
 * worker decodes itself — the raw frames of a 480p, 81-frame clip are 97 MB, its MP4 a few. `framesKey` (raw RGB
 * frames) is what bots before 2026-12-04 wrote; workers still read it for jobs queued by one.
 */
export const ClipRef = z.object({
  clipId: z.string().min(1).max(100).optional(),
  latentsKey: z.string().min(1).max(200).optional(),
  mp4Key: z.string().min(1).max(200).optional(),
  framesKey: z.string().min(1).max(200).optional(),
});
export type ClipRef = z.infer<typeof ClipRef>;

/**
 * The platform-neutral request model: what any front end (Discord, Slack, the playground, the CLI) turns a user's
 * command into. Options left out take the model pack's defaults.
 */
// Control characters other than tab and newline: a NUL reached PostgreSQL as a raw error ([13]); none means text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what it is for
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/u;
function noControlCharacters(text: string): boolean {
  return !CONTROL.test(text);
}
function controlCharacterMessage(what: string) {
  return (issue: { input?: unknown }) => {
    const found = CONTROL.exec(String(issue.input ?? ''))?.[0] ?? '';
    const code = `U+${found.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`;
    return `${what} contains a control character (${code}); remove it and send it again`;
  };
}

export const GenerationRequest = z
  .object({
    task: Task,
    prompt: z
      .string()
      .trim()
      .min(1, 'a prompt is required')
      .max(LIMITS.promptLength, `prompts are at most ${LIMITS.promptLength} characters`)
      .refine(noControlCharacters, { error: controlCharacterMessage('the prompt') }),
    negativePrompt: z
      .string()
      .max(LIMITS.promptLength)
      .refine(noControlCharacters, { error: controlCharacterMessage('the negative prompt') })
      .optional(),
    steps: z.int().min(LIMITS.steps.min).max(LIMITS.steps.max, `steps are at most ${LIMITS.steps.max}`).optional(),
    guidance: z
      .number()
      .min(LIMITS.guidance.min)
      .max(LIMITS.guidance.max, `guidance is at most ${LIMITS.guidance.max}`)
      .optional(),
    seed: z.int().min(LIMITS.seed.min).max(LIMITS.seed.max).optional(),
    frames: z.int().min(1).max(1000).optional(),
    /** Output size `[width, height]`, one of the pack's sizes; the pack's first size when left out. */
    size: z.tuple([z.int().min(16).max(4096), z.int().min(16).max(4096)]).optional(),
    noiseMultipliers: z.array(Multiplier).min(1).max(16).optional(),
    overlap: z.int().min(1).max(16).optional(),
    images: z.array(InputRef).max(LIMITS.images.max).default([]),
    clips: z.array(ClipRef).max(2).default([]),
  })
  .superRefine((r, ctx) => {
    const need: Record<Task, [number, number, string]> = {
      t2v: [0, 0, 'no inputs'],
      i2v: [1, 0, 'one image'],
      'start-end': [2, 0, 'a start and an end image'],
      keyframes: [-1, 0, 'one or more images with latent indices'],
      extend: [0, 1, 'one clip'],
      transition: [0, 2, 'two clips (from, to)'],
    };
    const [images, clips, what] = need[r.task];
    const imagesOk =
      images === -1
        ? r.images.length >= 1 && r.images.every((i) => i.latentIndex !== undefined)
        : r.images.length === images;
    if (!imagesOk || r.clips.length !== clips)
      ctx.addIssue({ code: 'custom', message: `${r.task} takes ${what}`, path: ['task'] });
  });
export type GenerationRequest = z.infer<typeof GenerationRequest>;
export type GenerationRequestInput = z.input<typeof GenerationRequest>;

/** Parses untrusted input into a request; failures name the option and the allowed range. */
export function parseGenerationRequest(input: unknown): Parsed<GenerationRequest> {
  const parsed = GenerationRequest.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const first = parsed.error.issues[0];
  const where = first?.path.length ? `${first.path.join('.')}: ` : '';
  return {
    ok: false,
    error: new UserError('InvalidOption', `${where}${first?.message ?? 'invalid request'}`, {
      issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    }),
  };
}
