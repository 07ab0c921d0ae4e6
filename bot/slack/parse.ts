import { type Parsed, UserError } from '../../commands/index.ts';

export interface CommandOptions {
  steps?: number;
  frames?: number;
  seed?: number;
  guidance?: number;
}

const NUMERIC = { steps: 'int', frames: 'int', seed: 'int', guidance: 'number' } as const;

/**
 * Splits a slash command's text into options (`--steps 4`, `--frames=17`, `--seed 7`, `--guidance 5`) and the
 * remaining words (prompt, clip ids). Ranges are checked later by the core; this only checks the syntax.
 */
export function parseCommandText(text: string): Parsed<{ options: CommandOptions; rest: string[] }> {
  const words = text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  const options: CommandOptions = {};
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(word);
    if (match === null) {
      rest.push(word);
      continue;
    }
    const name = match[1] as string;
    if (!(name in NUMERIC))
      return {
        ok: false,
        error: new UserError('InvalidOption', `unknown option --${name}; use --steps, --frames, --seed or --guidance`),
      };
    const raw = match[2] ?? words[++i];
    const value = Number(raw);
    const kind = NUMERIC[name as keyof typeof NUMERIC];
    if (raw === undefined || !Number.isFinite(value) || (kind === 'int' && !Number.isInteger(value)))
      return {
        ok: false,
        error: new UserError(
          'InvalidOption',
          `--${name} takes a ${kind === 'int' ? 'whole ' : ''}number; got ${raw ?? 'nothing'}`,
        ),
      };
    options[name as keyof CommandOptions] = value;
  }
  return { ok: true, value: { options, rest } };
}
