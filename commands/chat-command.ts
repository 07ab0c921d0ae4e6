import { type Parsed, UserError } from './errors.ts';
import type { Task } from './request.ts';

/** A command typed in a chat box (the playground; any text front end): `/t2v a red circle --steps 8`. */
export type ChatCommand =
  | {
      kind: 'generate';
      task: Task;
      prompt: string;
      clipIds: string[];
      options: {
        steps?: number;
        seed?: number;
        guidance?: number;
        frames?: number;
        negativePrompt?: string;
        noiseMultipliers?: number[];
      };
    }
  | { kind: 'quota' }
  | { kind: 'history' }
  | { kind: 'cancel'; jobId: string }
  | { kind: 'help' };

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
 * Parses a chat command. Flags (`--steps 8`, `--seed 3`, `--cfg 5`, `--frames 17`, `--negative "…"`,
 * `--motion 0.2` for the noise multiplier) may appear anywhere; quoted text keeps its spaces. `/extend CLIP [prompt]`
 * and `/transition FROM TO [prompt]` take clip ids first. Ranges are checked later by the request model.
 */
export function parseChatCommand(text: string): Parsed<ChatCommand> {
  const trimmed = text.trim();
  const match = /^\/([a-z0-9-]+)\b(.*)$/is.exec(trimmed);
  if (match === null)
    return fail('start with a command, e.g. /t2v a red circle moves left on a black background (try /help)');
  const name = (match[1] as string).toLowerCase();
  const words = tokenize(match[2] as string);
  if (words === undefined) return fail('a quotation mark is not closed');
  if (name === 'help') return ok({ kind: 'help' });
  if (name === 'quota') return ok({ kind: 'quota' });
  if (name === 'history') return ok({ kind: 'history' });
  if (name === 'cancel') {
    const jobId = words[0];
    return jobId === undefined ? fail('/cancel needs the id of the job to cancel') : ok({ kind: 'cancel', jobId });
  }
  const task = TASKS[name];
  if (task === undefined)
    return fail(
      `unknown command /${name}; try /t2v, /animate, /keyframes, /start-end, /extend, /transition, /quota, /history, /cancel or /help`,
    );

  const options: Extract<ChatCommand, { kind: 'generate' }>['options'] = {};
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (!word.startsWith('--')) {
      rest.push(word);
      continue;
    }
    const flag = word.slice(2);
    const value = words[++i];
    if (value === undefined) return fail(`--${flag} needs a value`);
    const number = Number(value);
    const numeric = (what: string) =>
      Number.isFinite(number) ? undefined : `--${flag} expects ${what}, got "${value}"`;
    let problem: string | undefined;
    switch (flag) {
      case 'steps':
      case 'seed':
      case 'frames':
        problem = Number.isInteger(number) ? undefined : `--${flag} expects a whole number, got "${value}"`;
        if (problem === undefined) options[flag] = number;
        break;
      case 'cfg':
      case 'guidance':
        problem = numeric('a number');
        if (problem === undefined) options.guidance = number;
        break;
      case 'motion':
        problem = numeric('a number between 0 and 1');
        if (problem === undefined) options.noiseMultipliers = [number];
        break;
      case 'negative':
        options.negativePrompt = value;
        break;
      default:
        problem = `unknown option --${flag}; use --steps, --seed, --cfg, --frames, --negative or --motion`;
    }
    if (problem !== undefined) return fail(problem);
  }
  const clipCount = task === 'extend' ? 1 : task === 'transition' ? 2 : 0;
  const clipIds = rest.slice(0, clipCount);
  if (clipIds.length < clipCount)
    return fail(
      task === 'extend'
        ? '/extend needs a clip id (press Extend on a result, or /extend CLIP prompt)'
        : '/transition needs two clip ids: /transition FROM TO prompt',
    );
  const prompt = rest.slice(clipCount).join(' ');
  return ok({ kind: 'generate', task, prompt, clipIds, options });
}

/** Splits on spaces, keeping "quoted text" together; undefined when a quote is left open. */
function tokenize(text: string): string[] | undefined {
  const words: string[] = [];
  let current = '';
  let quote: string | undefined;
  let started = false;
  for (const ch of text) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === '"' || ch === '“' || ch === '”') {
      quote = ch === '“' ? '”' : ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) words.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (quote !== undefined) return undefined;
  if (started) words.push(current);
  return words;
}

function ok(value: ChatCommand): Parsed<ChatCommand> {
  return { ok: true, value };
}

function fail(message: string): Parsed<ChatCommand> {
  return { ok: false, error: new UserError('InvalidOption', message) };
}
