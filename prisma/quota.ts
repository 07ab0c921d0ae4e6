/** Pure quota and blocklist rules used by the store: UTC days, refusal messages, prompt matching. */
import { RE2JS } from 're2js';
import type { BlockRuleKind, BlockRuleRecord } from './types.ts';

const DAY_MS = 86_400_000;

/** The UTC midnight at or before `now`. Daily quotas count from here. */
export function utcDayStart(now: Date): Date {
  return new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
}

/** The next UTC midnight after `now`: when daily quotas reset. */
export function nextUtcMidnight(now: Date): Date {
  return new Date(utcDayStart(now).getTime() + DAY_MS);
}

/** Whole GPU seconds, rounded up; rejects negative and non-finite values (a caller bug). */
export function wholeSeconds(seconds: number, what: string): number {
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new RangeError(`${what} must be a finite number ≥ 0, got ${seconds}`);
  return Math.ceil(seconds);
}

/** "in 3 h 12 min", "in 5 min", "in under a minute". */
export function describeWait(now: Date, until: Date): string {
  const minutes = Math.ceil((until.getTime() - now.getTime()) / 60_000);
  if (minutes <= 1) return 'in under a minute';
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `in ${rest} min`;
  return rest === 0 ? `in ${hours} h` : `in ${hours} h ${rest} min`;
}

export interface BudgetNumbers {
  neededSeconds: number;
  limitSeconds: number;
  usedSeconds: number;
  reservedSeconds: number;
}

export function userDailyMessage(numbers: BudgetNumbers, now: Date, resetsAt: Date): string {
  const left = Math.max(0, numbers.limitSeconds - numbers.usedSeconds - numbers.reservedSeconds);
  return (
    `This needs about ${numbers.neededSeconds} s of GPU time, but only ${left} s of your daily ${numbers.limitSeconds} s ` +
    `are left (${numbers.usedSeconds} s used, ${numbers.reservedSeconds} s held by your queued jobs). ` +
    `Your quota resets at 00:00 UTC, ${describeWait(now, resetsAt)}.`
  );
}

export function workspaceDailyMessage(numbers: BudgetNumbers, now: Date, resetsAt: Date): string {
  const left = Math.max(0, numbers.limitSeconds - numbers.usedSeconds - numbers.reservedSeconds);
  return (
    `This needs about ${numbers.neededSeconds} s of GPU time, but only ${left} s of this workspace's daily ` +
    `${numbers.limitSeconds} s budget are left. The budget resets at 00:00 UTC, ${describeWait(now, resetsAt)}.`
  );
}

export function queuedCapMessage(queued: number, maxQueued: number): string {
  return (
    `You already have ${queued} job${queued === 1 ? '' : 's'} queued or running (the limit is ${maxQueued}). ` +
    'Submit again when one has finished.'
  );
}

export function bannedMessage(reason: string | null): string {
  return reason === null || reason.length === 0
    ? 'You are not allowed to generate videos here.'
    : `You are not allowed to generate videos here: ${reason}`;
}

export function blockedMessage(rule: Pick<BlockRuleRecord, 'kind' | 'pattern'>): string {
  const what = rule.kind === 'word' ? `the blocked word "${rule.pattern}"` : `the blocked pattern /${rule.pattern}/`;
  return `Your prompt matches ${what} of this workspace's blocklist; rephrase it and try again.`;
}

const WORD_CHAR = String.raw`[\p{L}\p{N}_]`;

/** What a compiled rule does: say whether a prompt matches it. */
export interface RuleMatcher {
  test(text: string): boolean;
}

/**
 * The matcher a rule stands for. `word`: the words, case-insensitive, not inside a longer word (Unicode-aware), any
 * whitespace between them — a pattern we build from escaped words, so JavaScript's engine runs it in linear time.
 * `regex`: the operator's pattern as written, case-insensitive, in RE2 (re2js): matching takes time linear in the
 * prompt whatever the pattern, so a rule such as `(a+)+$` cannot freeze the host as a backtracking engine lets it
 * (33 s on one prompt, [13] finding 7). RE2 has no backreferences or lookaround; such a rule is refused when added.
 * Throws a SyntaxError for a pattern that does not compile.
 */
export function compileRule(kind: BlockRuleKind, pattern: string): RuleMatcher {
  if (kind === 'regex') {
    let re: RE2JS;
    try {
      re = RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE);
    } catch (error) {
      throw new SyntaxError(error instanceof Error ? error.message : String(error));
    }
    return { test: (text) => re.matcher(text).find() };
  }
  const words = pattern
    .trim()
    .split(/\s+/)
    .map((word) => word.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  return new RegExp(`(?<!${WORD_CHAR})${words.join(String.raw`\s+`)}(?!${WORD_CHAR})`, 'iu');
}

/** Checks a new rule; a refusal message when it cannot be used. */
export function validateRule(kind: BlockRuleKind, pattern: string): string | null {
  if (pattern.trim().length === 0) return 'A blocklist rule needs a non-empty pattern.';
  if (pattern.length > 500) return 'A blocklist rule may be at most 500 characters long.';
  try {
    const matcher = compileRule(kind, pattern);
    if (matcher.test('')) return `The pattern /${pattern}/ matches every prompt.`;
  } catch (error) {
    return `Invalid regular expression /${pattern}/ (RE2 syntax: no backreferences or lookaround): ${error instanceof Error ? error.message : String(error)}`;
  }
  return null;
}

/** The first rule (in the given order) that matches the prompt, or undefined. */
export function matchBlockRule<TRule extends Pick<BlockRuleRecord, 'kind' | 'pattern'>>(
  prompt: string,
  rules: readonly TRule[],
): TRule | undefined {
  const text = prompt.normalize('NFKC');
  return rules.find((rule) => {
    try {
      return compileRule(rule.kind, rule.pattern.normalize('NFKC')).test(text);
    } catch {
      return false;
    }
  });
}
