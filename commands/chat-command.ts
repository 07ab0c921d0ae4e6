import { type Parsed, UserError } from './errors.ts';
import type { Task } from './request.ts';

/**
 * Options typed after a command in any text front end (Slack's slash commands, the playground's chat box). Ranges are
 * checked later by the request model; the grammar only checks the syntax.
 */
export interface CommandOptions {
  steps?: number;
  seed?: number;
  guidance?: number;
  frames?: number;
  negativePrompt?: string;
  noiseMultipliers?: number[];
}

/** A command typed in a chat box (the playground; any text front end): `/t2v a red circle --steps 8`. */
export type ChatCommand =
  | { kind: 'generate'; task: Task; prompt: string; clipIds: string[]; options: CommandOptions }
  | { kind: 'quota' }
  | { kind: 'history' }
  | { kind: 'cancel'; jobId: string }
  | { kind: 'help' };

type Reader = (value: string, flag: string) => Parsed<Partial<LongOptions>>;

const whole =
  (key: 'steps' | 'seed' | 'frames'): Reader =>
  (value, flag) =>
    /^[+-]?\d+$/.test(value) ? ok({ [key]: Number(value) }) : fail(`--${flag} expects a whole number, got "${value}"`);

const guidance: Reader = (value, flag) =>
  isNumber(value) ? ok({ guidance: Number(value) }) : fail(`--${flag} expects a number, got "${value}"`);

const negativePrompt: Reader = (value) => ok({ negativePrompt: value });

const noiseMultipliers: Reader = (value, flag) => {
  const parts = value.split(',');
  return parts.every(isNumber)
    ? ok({ noiseMultipliers: parts.map(Number) })
    : fail(`--${flag} expects a number between 0 and 1, or one per image separated by commas, got "${value}"`);
};

/**
 * Every option, by each name it answers to. The aliases are the other front ends' names for the same thing: `--cfg`
 * (the CLI, the playground) and `--guidance` (Slack); `--negative` and the CLI's `--negative-prompt`; `--motion` and
 * the CLI's `--noise-multiplier`.
 */
const OPTIONS: Record<string, Reader> = {
  steps: whole('steps'),
  seed: whole('seed'),
  frames: whole('frames'),
  cfg: guidance,
  guidance,
  negative: negativePrompt,
  'negative-prompt': negativePrompt,
  motion: noiseMultipliers,
  'noise-multiplier': noiseMultipliers,
};

/** What an unknown option's error lists. */
export const OPTION_NAMES =
  '--steps N, --seed N, --frames N, --cfg X (or --guidance), --negative "TEXT" (or --negative-prompt), ' +
  '--motion M[,M…] (or --noise-multiplier)';

/**
 * The one grammar of a command's text, after its name: options and the remaining words (clip ids, then the prompt).
 *
 * - A word that starts with `--` and a letter is an option: `--steps 8` or `--steps=8`, anywhere in the text, each
 *   at most once; names are case-insensitive. An unknown name is an error that lists the options.
 * - A value in quotes (`"…"` or `“…”`) keeps its spaces: `--negative "blurry, dark"`.
 * - Every other word is kept as typed, quotation marks included (`a sign reading "OPEN"`, `a 12" record`): the
 *   prompt is the user's text without the options.
 */
export function parseCommandArguments(text: string): Parsed<{ options: CommandOptions; rest: string[] }> {
  return parseArguments(text, OPTIONS, OPTION_NAMES);
}

/** `/long`'s options: every command option (`--frames` is each segment's frames) plus how long, `--seconds N` or `--segments N`. */
export interface LongOptions extends CommandOptions {
  seconds?: number;
  segments?: number;
}

const seconds: Reader = (value, flag) =>
  isNumber(value) ? ok({ seconds: Number(value) }) : fail(`--${flag} expects a number, got "${value}"`);
const segments: Reader = (value, flag) =>
  /^[+-]?\d+$/.test(value) ? ok({ segments: Number(value) }) : fail(`--${flag} expects a whole number, got "${value}"`);
const LONG_OPTIONS: Record<string, Reader> = { ...OPTIONS, seconds, segments };
export const LONG_OPTION_NAMES = `--seconds N or --segments N, ${OPTION_NAMES}`;

/** `/long`'s text in the same grammar: its options, and the prompt's words. */
export function parseLongArguments(text: string): Parsed<{ options: LongOptions; rest: string[] }> {
  return parseArguments(text, LONG_OPTIONS, LONG_OPTION_NAMES);
}

function parseArguments(
  text: string,
  readers: Record<string, Reader>,
  names: string,
): Parsed<{ options: LongOptions; rest: string[] }> {
  const options: LongOptions = {};
  const rest: string[] = [];
  const seen = new Set<Reader>();
  let at = 0;
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text.charAt(at))) at++;
  };
  const word = () => {
    const start = at;
    while (at < text.length && !/\s/.test(text.charAt(at))) at++;
    return text.slice(start, at);
  };
  for (skipSpace(); at < text.length; skipSpace()) {
    FLAG.lastIndex = at;
    const flag = FLAG.exec(text);
    if (flag === null) {
      const next = word();
      if (FLAG_START.test(next))
        return fail(`"${next}" is not an option; write --name value or --name=value (the options are ${names})`);
      rest.push(next);
      continue;
    }
    const name = (flag[1] as string).toLowerCase();
    const read = readers[name];
    if (read === undefined) return fail(`unknown option --${name}; the options are ${names}`);
    if (seen.has(read)) return fail(`--${name} is given twice; give each option once`);
    seen.add(read);
    at += flag[0].length;
    if (flag[2] !== '=') skipSpace();
    const value = quotedOrWord(text, at);
    if (value === undefined) return fail(`the quotation mark after --${name} is not closed`);
    if (!value.quoted && (value.text === '' || FLAG_START.test(value.text))) return fail(`--${name} needs a value`);
    at = value.end;
    const parsed = read(value.text, name);
    if (!parsed.ok) return parsed;
    Object.assign(options, parsed.value);
  }
  return ok({ options, rest });
}

const FLAG = /--([a-z][a-z0-9-]*)(=|(?=\s|$))/iy;
const FLAG_START = /^--[a-z]/i;

/** The value at `at`: quoted text without its marks, else one word; undefined when a quote is left open. */
function quotedOrWord(text: string, at: number): { text: string; quoted: boolean; end: number } | undefined {
  const open = text.charAt(at);
  if (open === '"' || open === '“') {
    const close = text.slice(at + 1).search(open === '“' ? /[”"]/ : /["”]/);
    if (close < 0) return undefined;
    return { text: text.slice(at + 1, at + 1 + close), quoted: true, end: at + close + 2 };
  }
  let end = at;
  while (end < text.length && !/\s/.test(text.charAt(end))) end++;
  return { text: text.slice(at, end), quoted: false, end };
}

const TASKS: Record<string, Task> = {
  t2v: 't2v',
  animate: 'i2v',
  i2v: 'i2v',
  keyframes: 'keyframes',
  'start-end': 'start-end',
  extend: 'extend',
  transition: 'transition',
};

/**
 * Parses a chat command: `/name` then its text in the grammar of `parseCommandArguments`. `/extend CLIP [prompt]` and
 * `/transition FROM TO [prompt]` take clip ids first.
 */
export function parseChatCommand(text: string): Parsed<ChatCommand> {
  const match = /^\/([a-z0-9-]+)(?=\s|$)(.*)$/is.exec(text.trim());
  if (match === null)
    return fail('start with a command, e.g. /t2v a red circle moves left on a black background (try /help)');
  const name = (match[1] as string).toLowerCase();
  if (name === 'help') return ok({ kind: 'help' });
  if (name === 'quota') return ok({ kind: 'quota' });
  if (name === 'history') return ok({ kind: 'history' });
  const args = parseCommandArguments(match[2] as string);
  if (!args.ok) return args;
  const { options, rest } = args.value;
  if (name === 'cancel') {
    const jobId = rest[0];
    return jobId === undefined ? fail('/cancel needs the id of the job to cancel') : ok({ kind: 'cancel', jobId });
  }
  const task = TASKS[name];
  if (task === undefined)
    return fail(
      `unknown command /${name}; try /t2v, /animate, /keyframes, /start-end, /extend, /transition, /quota, /history, /cancel or /help`,
    );
  const clipCount = task === 'extend' ? 1 : task === 'transition' ? 2 : 0;
  const clipIds = rest.slice(0, clipCount);
  if (clipIds.length < clipCount)
    return fail(
      task === 'extend'
        ? '/extend needs a clip id (press Extend on a result, or /extend CLIP prompt)'
        : '/transition needs two clip ids: /transition FROM TO prompt',
    );
  return ok({ kind: 'generate', task, prompt: rest.slice(clipCount).join(' '), clipIds, options });
}

function isNumber(value: string): boolean {
  return value.trim() !== '' && Number.isFinite(Number(value));
}

function ok<TValue>(value: TValue): Parsed<TValue> {
  return { ok: true, value };
}

function fail(message: string): { ok: false; error: UserError } {
  return { ok: false, error: new UserError('InvalidOption', message) };
}
