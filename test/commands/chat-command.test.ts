import { describe, expect, it } from 'vitest';
import { OPTION_NAMES, parseChatCommand, parseCommandArguments } from '../../commands/index.ts';

describe('parseChatCommand', () => {
  it.each([
    [
      '/t2v a red circle moves left --steps 8 --seed 3',
      { kind: 'generate', task: 't2v', prompt: 'a red circle moves left', clipIds: [], options: { steps: 8, seed: 3 } },
    ],
    [
      '/animate --motion 0.2 a "yellow  star"',
      { kind: 'generate', task: 'i2v', prompt: 'a "yellow star"', options: { noiseMultipliers: [0.2] } },
    ],
    ['/extend clip-1 keep going', { kind: 'generate', task: 'extend', prompt: 'keep going', clipIds: ['clip-1'] }],
    [
      '/transition a b bridge them --cfg 4.5',
      { kind: 'generate', task: 'transition', prompt: 'bridge them', clipIds: ['a', 'b'], options: { guidance: 4.5 } },
    ],
    ['/t2v x --negative "blurry, dark"', { kind: 'generate', options: { negativePrompt: 'blurry, dark' } }],
    ['/T2V x --FRAMES=17', { kind: 'generate', task: 't2v', options: { frames: 17 } }],
    ['/quota', { kind: 'quota' }],
    ['/cancel job-7', { kind: 'cancel', jobId: 'job-7' }],
  ])('reads %j', (text, expected) => {
    const parsed = parseChatCommand(text);

    expect(parsed).toMatchObject({ ok: true, value: expected });
  });

  it.each([
    ['a red circle', /start with a command/],
    ['/paint a cat', /unknown command \/paint/],
    ['/t2vx a cat', /unknown command \/t2vx/],
    ['/t2v a cat --steps', /--steps needs a value/],
    ['/t2v a cat --steps many', /--steps expects a whole number, got "many"/],
    ['/t2v a cat --zoom 2', /unknown option --zoom/],
    ['/t2v a cat --negative "dark', /quotation mark after --negative is not closed/],
    ['/extend', /\/extend needs a clip id/],
    ['/transition only-one', /\/transition needs two clip ids/],
    ['/cancel', /\/cancel needs the id/],
  ])('refuses %j with a clear message', (text, message) => {
    const parsed = parseChatCommand(text);

    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(message);
  });
});

describe('parseCommandArguments', () => {
  it('takes --flag value and --flag=value alike, anywhere in the text', () => {
    expect(parseCommandArguments('a cat --steps 4 --frames=17 walks --seed=7')).toEqual({
      ok: true,
      value: { options: { steps: 4, frames: 17, seed: 7 }, rest: ['a', 'cat', 'walks'] },
    });
  });

  it.each([
    ['--cfg 5', { guidance: 5 }],
    ['--guidance=5', { guidance: 5 }],
    ['--negative "blurry, dark"', { negativePrompt: 'blurry, dark' }],
    ['--negative-prompt=“low quality”', { negativePrompt: 'low quality' }],
    ['--negative=""', { negativePrompt: '' }],
    ['--motion 0.2', { noiseMultipliers: [0.2] }],
    ['--noise-multiplier 0.1,0.5', { noiseMultipliers: [0.1, 0.5] }],
    ['--Steps 8', { steps: 8 }],
  ])('reads %s under each of its names', (text, options) => {
    expect(parseCommandArguments(text)).toEqual({ ok: true, value: { options, rest: [] } });
  });

  it('keeps the words of the prompt as typed, quotation marks included', () => {
    const parsed = parseCommandArguments('a sign reading "OPEN" on a 12" record --steps 2 — at night -- slowly');

    expect(parsed).toEqual({
      ok: true,
      value: {
        options: { steps: 2 },
        rest: ['a', 'sign', 'reading', '"OPEN"', 'on', 'a', '12"', 'record', '—', 'at', 'night', '--', 'slowly'],
      },
    });
  });

  it('names the unknown flag and every accepted one', () => {
    const parsed = parseCommandArguments('a cat --speed 3');

    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe('InvalidOption');
      expect(parsed.error.message).toBe(`unknown option --speed; the options are ${OPTION_NAMES}`);
      for (const name of ['--steps', '--seed', '--frames', '--cfg', '--guidance', '--negative', '--motion'])
        expect(parsed.error.message).toContain(name);
    }
  });

  it.each([
    ['--steps four', '--steps expects a whole number, got "four"'],
    ['--steps 4.5', '--steps expects a whole number, got "4.5"'],
    ['--cfg high', '--cfg expects a number, got "high"'],
    ['--motion 0.2,x', '--motion expects a number between 0 and 1, or one per image separated by commas, got "0.2,x"'],
    ['--seed', '--seed needs a value'],
    ['--seed= 4', '--seed needs a value'],
    ['--steps --seed 3', '--steps needs a value'],
    ['--steps 4 --steps 5', '--steps is given twice; give each option once'],
    ['--cfg 4 --guidance 5', '--guidance is given twice; give each option once'],
    ['--steps8', `unknown option --steps8; the options are ${OPTION_NAMES}`],
    ['--steps:8', `"--steps:8" is not an option; write --name value or --name=value (the options are ${OPTION_NAMES})`],
    ['--negative “dark', 'the quotation mark after --negative is not closed'],
  ])('refuses %j', (text, message) => {
    const parsed = parseCommandArguments(text);

    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toBe(message);
  });
});
