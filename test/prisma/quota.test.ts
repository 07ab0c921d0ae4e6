import process from 'node:process';
import { describe, expect, it } from 'vitest';
import { isUnavailable, StoreUnavailableError } from '../../prisma/errors.ts';
import {
  compileRule,
  describeWait,
  matchBlockRule,
  nextUtcMidnight,
  utcDayStart,
  validateRule,
  wholeSeconds,
} from '../../prisma/quota.ts';
import { parseDatabaseUrl, pgConfig, redactUrl, secretScrubber } from '../../prisma/url.ts';

describe('UTC days', () => {
  it.each([
    ['2031-05-06T00:00:00.000Z', '2031-05-06T00:00:00.000Z', '2031-05-07T00:00:00.000Z'],
    ['2031-05-06T23:59:59.999Z', '2031-05-06T00:00:00.000Z', '2031-05-07T00:00:00.000Z'],
    ['2031-12-31T12:00:00.000Z', '2031-12-31T00:00:00.000Z', '2032-01-01T00:00:00.000Z'],
  ])('day of %s starts at %s and resets at %s', (now, start, reset) => {
    expect(utcDayStart(new Date(now)).toISOString()).toBe(start);
    expect(nextUtcMidnight(new Date(now)).toISOString()).toBe(reset);
  });

  it.each([
    ['2031-05-06T23:59:30Z', 'in under a minute'],
    ['2031-05-06T23:55:00Z', 'in 5 min'],
    ['2031-05-06T21:00:00Z', 'in 3 h'],
    ['2031-05-06T20:48:00Z', 'in 3 h 12 min'],
  ])('describes the wait from %s as "%s"', (now, text) => {
    expect(describeWait(new Date(now), new Date('2031-05-07T00:00:00Z'))).toBe(text);
  });

  it('rounds GPU seconds up and rejects nonsense', () => {
    expect(wholeSeconds(10.01, 'x')).toBe(11);
    expect(wholeSeconds(0, 'x')).toBe(0);
    expect(() => wholeSeconds(-1, 'x')).toThrow(RangeError);
    expect(() => wholeSeconds(Number.NaN, 'x')).toThrow(RangeError);
  });
});

describe('blocklist rules', () => {
  const word = (pattern: string) => ({ kind: 'word' as const, pattern });
  const regex = (pattern: string) => ({ kind: 'regex' as const, pattern });

  it.each([
    ['blood', 'Blood everywhere', true],
    ['blood', 'bloodhound puppies', false],
    ['blood', 'a blood-red sky', true],
    ['red sky', 'a RED   sky at night', true],
    ['red sky', 'a redsky', false],
    ['c++', 'code in C++ please', true],
    ['ünïcode', 'ÜNÏCODE art', true],
    ['naïve', 'naïveté', false],
  ])('word %s in "%s" → %s', (pattern, prompt, matches) => {
    expect(matchBlockRule(prompt, [word(pattern)]) !== undefined).toBe(matches);
  });

  it('matches regex rules case-insensitively and returns the first matching rule', () => {
    const rules = [word('nothing'), regex(String.raw`\bnsfw\b`), regex('n.fw')];

    expect(matchBlockRule('totally NSFW clip', rules)).toBe(rules[1]);
    expect(matchBlockRule('a calm lake', rules)).toBeUndefined();
    expect(compileRule('regex', 'a+b').test('xAAB')).toBe(true);
  });

  it('runs operator regexes in linear time: a catastrophic pattern answers at once instead of freezing the host', () => {
    // (a+)+$ against 40 a's and a '!' takes 2^40 steps in a backtracking engine: this test would never finish there.
    const rules = [regex('(a+)+$'), regex('(x|x)*y')];

    expect(validateRule('regex', '(a+)+$')).toBeNull();
    expect(matchBlockRule(`${'a'.repeat(40)}!`, rules)).toBeUndefined();
    expect(matchBlockRule(`${'x'.repeat(40)}y`, rules)).toBe(rules[1]);
  });

  it('validates new rules', () => {
    expect(validateRule('word', 'fine')).toBeNull();
    expect(validateRule('regex', '(open')).toMatch(/Invalid regular expression/);
    expect(validateRule('regex', 'x*')).toMatch(/matches every prompt/);
    expect(validateRule('word', '   ')).toMatch(/non-empty/);
    expect(validateRule('regex', String.raw`(a)\1`)).toMatch(/RE2 syntax: no backreferences or lookaround/);
    expect(validateRule('regex', '(?=a)b')).toMatch(/RE2 syntax/);
  });
});

describe('database URLs', () => {
  it('picks the provider from the scheme and resolves SQLite paths against the working directory', () => {
    expect(parseDatabaseUrl('file:./data/pusa.db')).toEqual({
      provider: 'sqlite',
      url: 'file:./data/pusa.db',
      path: `${process.cwd()}/data/pusa.db`,
    });
    expect(parseDatabaseUrl('file::memory:')).toMatchObject({ provider: 'sqlite', path: ':memory:' });
    expect(parseDatabaseUrl('postgres://u@h/db').provider).toBe('postgresql');
    expect(parseDatabaseUrl('postgresql://u@h/db').provider).toBe('postgresql');
    expect(() => parseDatabaseUrl('mysql://u:secret@h/db')).toThrow(/mysql:\/\/u:\*\*\*@h\/db/);
    expect(() => parseDatabaseUrl('file:./x.db?mode=ro')).toThrow(/no query string/);
  });

  it('builds node-postgres settings from discrete fields', () => {
    const config = pgConfig('postgresql://bot:s3cret@db.internal:6543/pusa', { max: 4 });

    expect(config).toMatchObject({ host: 'db.internal', port: 6543, database: 'pusa', user: 'bot', max: 4 });
    expect(config).not.toHaveProperty('connectionString');
    expect(redactUrl('postgresql://bot:s3cret@db.internal:6543/pusa')).toBe(
      'postgresql://bot:***@db.internal:6543/pusa',
    );
  });

  it.each([
    ['postgresql://:s3cret@db.internal/pusa', 'postgresql://:***@db.internal/pusa', 's3cret'],
    ['postgresql://bot:s3c@ret@db.internal/pusa', 'postgresql://bot:***@db.internal/pusa', 's3c@ret'],
    ['postgresql://bot:s3c%2Fret@db.internal:99999/pusa', 'postgresql://***@db.internal:99999/pusa', 's3c/ret'],
    ['file:./data/pusa.db', 'file:./data/pusa.db', ''],
  ])('redacts the password of %s, however the URL is written', (url, redacted, password) => {
    const scrub = secretScrubber([url]);

    expect(redactUrl(url)).toBe(redacted);
    expect(scrub(`connect ${url} failed (password ${password})`)).toBe(
      `connect ${redacted} failed (password ${password && '***'})`,
    );
  });
});

describe('isUnavailable', () => {
  it('recognises connection failures anywhere in the cause chain, and nothing else', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

    expect(isUnavailable(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('x'), { code: 'P1001' }))).toBe(true);
    expect(isUnavailable({ kind: 'DatabaseNotReachable' })).toBe(true);
    expect(isUnavailable(new StoreUnavailableError('down'))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }))).toBe(false);
    expect(isUnavailable(new TypeError('bug'))).toBe(false);
  });
});
