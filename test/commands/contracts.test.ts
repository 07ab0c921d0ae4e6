import { describe, expect, it } from 'vitest';
import {
  estimateSeconds,
  GenerateJobData,
  type MeasuredRun,
  parseGenerationRequest,
  parseJobData,
  predictSeconds,
} from '../../commands/index.ts';

const origin = { platform: 'discord', workspaceId: 'g1', userId: 'u1', channelId: 'c1' } as const;

describe('parseGenerationRequest', () => {
  it('accepts a text-to-video request and fills defaults', () => {
    const parsed = parseGenerationRequest({ task: 't2v', prompt: '  a red circle moves left ' });

    expect(parsed).toMatchObject({
      ok: true,
      value: { task: 't2v', prompt: 'a red circle moves left', images: [], clips: [] },
    });
  });

  it('keeps tabs and newlines in a prompt', () => {
    expect(parseGenerationRequest({ task: 't2v', prompt: 'line one\n\tline two' })).toMatchObject({ ok: true });
  });

  it.each([
    [{ task: 't2v', prompt: '' }, /a prompt is required/],
    [{ task: 't2v', prompt: 'x'.repeat(501) }, /at most 500 characters/],
    [{ task: 't2v', prompt: 'p', steps: 51 }, /steps: steps are at most 50/],
    [{ task: 't2v', prompt: 'p', guidance: 25 }, /guidance is at most 20/],
    [{ task: 't2v', prompt: 'p', noiseMultipliers: [1.5] }, /noise multipliers are between 0 and 1/],
    [{ task: 'i2v', prompt: 'p' }, /i2v takes one image/],
    [
      { task: 'keyframes', prompt: 'p', images: [{ key: 'a' }] },
      /keyframes takes one or more images with latent indices/,
    ],
    [{ task: 'transition', prompt: 'p', clips: [{ clipId: 'a' }] }, /transition takes two clips/],
    [{ task: 'paint', prompt: 'p' }, /task/],
    [{ task: 't2v', prompt: 'a red\u0000 circle' }, /the prompt contains a control character \(U\+0000\)/],
    [{ task: 't2v', prompt: 'p', negativePrompt: 'x\u001b[31m' }, /the negative prompt contains .*U\+001B/],
  ])('refuses %j with a message naming the problem', (input, message) => {
    const parsed = parseGenerationRequest(input);

    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe('InvalidOption');
      expect(parsed.error.message).toMatch(message);
    }
  });
});

describe('parseJobData', () => {
  const good = {
    v: 1,
    jobId: 'j1',
    requestId: 'r1',
    request: { task: 't2v', prompt: 'p' },
    origin,
    estimatedSeconds: 3,
  };

  it('reads version 1 generate payloads and applies defaults', () => {
    const parsed = parseJobData('generate', good);

    expect(parsed).toMatchObject({
      ok: true,
      value: { jobId: 'j1', request: { images: [] }, origin: { ephemeral: false } },
    });
    expect(GenerateJobData.parse(good).v).toBe(1);
  });

  it.each([
    [{ ...good, v: 0 }, /unsupported generate payload version 0; this worker reads version 1/],
    [{ ...good, v: 2 }, /version 2/],
    ['garbage', /version undefined/],
    [null, /version undefined/],
    [{ ...good, request: { task: 't2v' } }, /malformed generate payload: request.prompt/],
  ])('refuses %j without throwing', (data, reason) => {
    const parsed = parseJobData('generate', data);

    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it('reads delivery outcomes of every kind', () => {
    const base = { v: 1, jobId: 'j', requestId: 'r', origin };

    expect(parseJobData('deliver', { ...base, outcome: { status: 'cancelled' } }).ok).toBe(true);
    expect(parseJobData('deliver', { ...base, outcome: { status: 'failed', code: 'X', message: 'm' } }).ok).toBe(true);
    expect(parseJobData('deliver', { ...base, outcome: { status: 'lost' } }).ok).toBe(false);
  });
});

describe('estimateSeconds', () => {
  it('is steps × (base + perToken × tokens) plus fixed costs', () => {
    const seconds = estimateSeconds(
      { secondsPerStep: { base: 0.1, perToken: 0.001 }, vaeDecodeSeconds: 0.5 },
      { steps: 10, latentFrames: 9, latentHeight: 16, latentWidth: 16 },
    );

    expect(seconds).toBeCloseTo(10 * (0.1 + 0.001 * 576) + 0.5, 10);
  });

  it('interpolates VAE decode time between measured frame counts', () => {
    const cost = { secondsPerStep: { base: 0, perToken: 0 }, vaeDecodeSeconds: { '17': 0.2, '33': 0.4 } };

    expect(estimateSeconds(cost, { steps: 1, latentFrames: 7, latentHeight: 2, latentWidth: 2 })).toBeCloseTo(0.3, 10);
    expect(estimateSeconds(cost, { steps: 1, latentFrames: 9, latentHeight: 2, latentWidth: 2 })).toBeCloseTo(0.4, 10);
  });
});

describe('predictSeconds', () => {
  const cost = { secondsPerStep: { base: 0, perToken: 0.001 }, vaeDecodeSeconds: 0.5 };
  const measured = (over: Partial<MeasuredRun>): MeasuredRun => ({
    pack: 'p@1',
    device: 'cpu',
    steps: 10,
    tokens: 100,
    guidance: 5,
    pixelFrames: 33,
    stepSeconds: 0.4,
    otherSeconds: 2,
    ...over,
  });

  it('is the cost model alone when nothing was measured', () => {
    const run = { steps: 10, tokens: 100, guidance: 5, pixelFrames: 33 };

    expect(predictSeconds(cost, run, [])).toEqual({ seconds: 10 * 0.1 + 0.5, stepSeconds: 0.1, measured: 0 });
  });

  it('scales the model by the median measured ratio, per step and for the rest', () => {
    // Modelled step at 100 tokens: 0.1 s; measured 0.4, 0.5 and an outlier 9 s: the median ratio is 5.
    const samples = [0.4, 0.5, 9].map((stepSeconds) => measured({ stepSeconds }));

    const p = predictSeconds(cost, { steps: 20, tokens: 200, guidance: 5, pixelFrames: 33 }, samples);

    expect(p.measured).toBe(3);
    expect(p.stepSeconds).toBeCloseTo(0.2 * 5, 10);
    expect(p.seconds).toBeCloseTo(20 * 1 + 0.5 * 4, 10);
  });

  it('halves the step for guidance 1 and carries a guidance-1 measurement over to guided runs', () => {
    const samples = [measured({ guidance: 1, stepSeconds: 0.2 })];

    expect(
      predictSeconds(cost, { steps: 1, tokens: 100, guidance: 5, pixelFrames: 33 }, samples).stepSeconds,
    ).toBeCloseTo(0.4, 10);
    expect(
      predictSeconds(cost, { steps: 1, tokens: 100, guidance: 1, pixelFrames: 33 }, samples).stepSeconds,
    ).toBeCloseTo(0.2, 10);
  });

  it('uses the raw medians when the pack has no cost figures', () => {
    const zero = { secondsPerStep: { base: 0, perToken: 0 } };

    const p = predictSeconds(zero, { steps: 50, tokens: 9, guidance: 5, pixelFrames: 81 }, [
      measured({ stepSeconds: 4 }),
    ]);

    expect(p.seconds).toBeCloseTo(50 * 4 + 2, 10);
  });
});
