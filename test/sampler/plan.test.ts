import { describe, expect, it } from 'vitest';
import {
  planExtend,
  planImageToVideo,
  planKeyframes,
  planStartEnd,
  planTextToVideo,
  planTransition,
  readLatentFrame,
  SamplerError,
  tensor,
  validatePlan,
} from '../../sampler/index.ts';

const C = 2;
const PLANE = 4;

/** A clip whose latent frame f holds the value base + f everywhere, so carried frames are recognisable. */
function clip(frames: number, base: number) {
  const data = new Float32Array(C * frames * PLANE);
  for (let c = 0; c < C; c++)
    for (let f = 0; f < frames; f++) data.fill(base + f, (c * frames + f) * PLANE, (c * frames + f + 1) * PLANE);
  return tensor(data, [1, C, frames, 2, 2]);
}

const image = (v: number) => new Float32Array(C * PLANE).fill(v);

describe('conditioning plans', () => {
  it('t2v has no condition frames', () => {
    expect(planTextToVideo(21)).toEqual({ task: 't2v', frames: 21, conditions: [] });
  });

  it('i2v conditions latent 0', () => {
    const plan = planImageToVideo({ frames: 21, image: image(1), multiplier: 0.2 });

    expect(plan.conditions.map(({ index, multiplier }) => [index, multiplier])).toEqual([[0, 0.2]]);
  });

  it('start–end conditions the first and the last latent frame', () => {
    const plan = planStartEnd({ frames: 21, start: image(1), end: image(2), multipliers: [0.2, 0.5] });

    expect(plan.conditions.map(({ index, multiplier, latent }) => [index, multiplier, latent[0]])).toEqual([
      [0, 0.2, 1],
      [20, 0.5, 2],
    ]);
  });

  it('keyframes accept any distinct indices and sort them', () => {
    const plan = planKeyframes({
      frames: 9,
      keyframes: [
        { index: 8, multiplier: 0.3, latent: image(3) },
        { index: 4, multiplier: 0, latent: image(2) },
      ],
    });

    expect(plan.conditions.map((c) => c.index)).toEqual([4, 8]);
  });

  it('extend carries the LAST frames of the previous clip to the start of the new one', () => {
    const plan = planExtend({ frames: 9, previous: clip(9, 100), overlap: 3, multipliers: [0, 0.3, 0.4] });

    expect(plan.conditions.map(({ index, multiplier, latent }) => [index, multiplier, latent[0]])).toEqual([
      [0, 0, 106],
      [1, 0.3, 107],
      [2, 0.4, 108],
    ]);
  });

  it('transition opens with the tail of clip A and closes with the head of clip B', () => {
    const plan = planTransition({ frames: 9, from: clip(7, 10), to: clip(5, 50), head: 2, tail: 2, multipliers: 0.2 });

    expect(plan.conditions.map(({ index, latent }) => [index, latent[0]])).toEqual([
      [0, 15],
      [1, 16],
      [7, 50],
      [8, 51],
    ]);
  });

  it('readLatentFrame copies every channel of one frame', () => {
    expect(Array.from(readLatentFrame(clip(3, 0), 2))).toEqual(new Array(C * PLANE).fill(2));
  });

  it.each([
    [
      'an index past the last frame',
      () => planKeyframes({ frames: 5, keyframes: [{ index: 5, multiplier: 0, latent: image(0) }] }),
      /index 5 is out of range: expected an integer in 0\.\.4 for 5 latent frames/,
    ],
    [
      'a negative index',
      () => planKeyframes({ frames: 5, keyframes: [{ index: -1, multiplier: 0, latent: image(0) }] }),
      /index -1 is out of range/,
    ],
    [
      'a duplicate index',
      () =>
        planKeyframes({
          frames: 5,
          keyframes: [
            { index: 2, multiplier: 0, latent: image(0) },
            { index: 2, multiplier: 0.1, latent: image(0) },
          ],
        }),
      /latent frame 2 is conditioned twice/,
    ],
    [
      'a multiplier above 1',
      () => planImageToVideo({ frames: 5, image: image(0), multiplier: 1.5 }),
      /noise multiplier for latent frame 0 must be in \[0, 1\], got 1\.5/,
    ],
    [
      'a NaN multiplier',
      () => planImageToVideo({ frames: 5, image: image(0), multiplier: Number.NaN }),
      /must be in \[0, 1\], got NaN/,
    ],
    ['no keyframes', () => planKeyframes({ frames: 5, keyframes: [] }), /needs at least one keyframe/],
    [
      'start–end on one frame',
      () => planStartEnd({ frames: 1, start: image(0), end: image(0), multipliers: [0, 0] }),
      /at least 2 latent frames, got 1/,
    ],
    [
      'an overlap longer than the previous clip',
      () => planExtend({ frames: 9, previous: clip(3, 0), overlap: 4, multipliers: 0 }),
      /overlap must be an integer in 1\.\.3/,
    ],
    [
      'an overlap that leaves nothing to generate',
      () => planExtend({ frames: 3, previous: clip(5, 0), overlap: 3, multipliers: 0 }),
      /must be below 3 latent frames/,
    ],
    [
      'the wrong number of multipliers',
      () => planExtend({ frames: 9, previous: clip(5, 0), overlap: 2, multipliers: [0, 0.1, 0.2] }),
      /expected 2 noise multipliers/,
    ],
    [
      'transition clips of different sizes',
      () =>
        planTransition({
          frames: 9,
          from: clip(5, 0),
          to: tensor(new Float32Array(3 * 5 * 4), [1, 3, 5, 2, 2]),
          head: 1,
          tail: 1,
          multipliers: 0,
        }),
      /clip A is 2×2×2 per latent frame but clip B is 3×2×2/,
    ],
    [
      'a transition with no free frame',
      () => planTransition({ frames: 4, from: clip(5, 0), to: clip(5, 0), head: 2, tail: 2, multipliers: 0 }),
      /head 2 \+ tail 2 must leave a frame to generate/,
    ],
    ['a fractional frame count', () => planTextToVideo(2.5), /latent frame count must be a positive integer, got 2\.5/],
  ])('rejects %s', (_label, build, message) => {
    expect(build).toThrow(SamplerError);
    expect(build).toThrow(message);
  });

  it('validatePlan checks latent sizes against the run geometry', () => {
    const plan = planImageToVideo({ frames: 5, image: image(0), multiplier: 0 });

    expect(() => validatePlan(plan, { channels: C, height: 2, width: 2 })).not.toThrow();
    expect(() => validatePlan(plan, { channels: 16, height: 2, width: 2 })).toThrow(/has 8 values, expected 64/);
  });
});
