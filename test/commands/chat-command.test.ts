import { describe, expect, it } from 'vitest';
import { parseChatCommand } from '../../commands/index.ts';

describe('parseChatCommand', () => {
  it.each([
    [
      '/t2v a red circle moves left --steps 8 --seed 3',
      { kind: 'generate', task: 't2v', prompt: 'a red circle moves left', clipIds: [], options: { steps: 8, seed: 3 } },
    ],
    [
      '/animate --motion 0.2 a "yellow  star"',
      { kind: 'generate', task: 'i2v', prompt: 'a yellow  star', options: { noiseMultipliers: [0.2] } },
    ],
    ['/extend clip-1 keep going', { kind: 'generate', task: 'extend', prompt: 'keep going', clipIds: ['clip-1'] }],
    [
      '/transition a b bridge them --cfg 4.5',
      { kind: 'generate', task: 'transition', prompt: 'bridge them', clipIds: ['a', 'b'], options: { guidance: 4.5 } },
    ],
    ['/t2v x --negative "blurry, dark"', { kind: 'generate', options: { negativePrompt: 'blurry, dark' } }],
    ['/quota', { kind: 'quota' }],
    ['/cancel job-7', { kind: 'cancel', jobId: 'job-7' }],
  ])('reads %j', (text, expected) => {
    const parsed = parseChatCommand(text);

    expect(parsed).toMatchObject({ ok: true, value: expected });
  });

  it.each([
    ['a red circle', /start with a command/],
    ['/paint a cat', /unknown command \/paint/],
    ['/t2v a cat --steps', /--steps needs a value/],
    ['/t2v a cat --steps many', /--steps expects a whole number, got "many"/],
    ['/t2v a cat --zoom 2', /unknown option --zoom/],
    ['/t2v "a cat', /quotation mark is not closed/],
    ['/extend', /\/extend needs a clip id/],
    ['/transition only-one', /\/transition needs two clip ids/],
    ['/cancel', /\/cancel needs the id/],
  ])('refuses %j with a clear message', (text, message) => {
    const parsed = parseChatCommand(text);

    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(message);
  });
});
