import { describe, expect, it } from 'vitest';
import {
  type LongPack,
  longAsk,
  parseCommandArguments,
  parseLongArguments,
  parseSegmentJobId,
  parseStoryboard,
  planLong,
  segmentJobId,
} from '../../commands/index.ts';

// pusa-mini's figures: 16 fps, frame counts 17–33, 4 frames per latent, one latent frame carried by extend.
const pack: LongPack = {
  fps: 16,
  frameCounts: [17, 21, 25, 29, 33],
  defaultFrames: 33,
  temporalFactor: 4,
  defaultOverlap: 1,
};
const plan = (shape: Parameters<typeof planLong>[0], max = 100) => planLong(shape, pack, max);

describe('planLong', () => {
  it('turns seconds into the fewest segments that last that long, each adding its frames less the repeated one', () => {
    expect(plan({ prompt: 'a', seconds: 60 })).toMatchObject({
      ok: true,
      value: { segments: 30, segmentFrames: 33, repeatedFrames: 1, totalFrames: 33 + 29 * 32 },
    });
    expect(plan({ prompt: 'a', seconds: 1, segmentFrames: 17 })).toMatchObject({
      value: { segments: 1, totalFrames: 17 },
    });
    expect(plan({ prompt: 'a', seconds: 1.1, segmentFrames: 17 })).toMatchObject({
      value: { segments: 2, totalFrames: 33 },
    });
  });

  it('carries more latent frames with --overlap: 1 + 4(K − 1) frames repeat at each join', () => {
    expect(plan({ prompt: 'a', segments: 3, segmentFrames: 17, overlap: 2 })).toMatchObject({
      value: { repeatedFrames: 5, totalFrames: 17 + 2 * 12 },
    });
    expect(plan({ prompt: 'a', segments: 3, segmentFrames: 17, overlap: 5 })).toMatchObject({ ok: false });
  });

  it('gives each segment its storyboard prompt, or the one prompt to all', () => {
    expect(plan({ storyboard: ['x', 'y', 'z'] })).toMatchObject({ value: { segments: 3, prompts: ['x', 'y', 'z'] } });
    expect(plan({ prompt: ' p ', segments: 2 })).toMatchObject({ value: { prompts: ['p', 'p'] } });
  });

  it.each([
    [{ seconds: 4 }, /one prompt for the whole video or a storyboard/],
    [{ prompt: 'a', storyboard: ['b'], segments: 1 }, /not both or neither/],
    [{ prompt: 'a' }, /say how long/],
    [{ prompt: 'a', seconds: 61 }, /at most 60/],
    [{ prompt: 'a', seconds: 4, segments: 2 }, /seconds or in segments, not both/],
    [{ prompt: 'a', segments: 31 }, /run past 60 s; at most 30/],
    [{ storyboard: ['a', 'b'], segments: 3 }, /storyboard has 2 prompts but the video needs 3/],
    [{ storyboard: ['a', ' '] }, /non-empty prompt per segment/],
    [{ prompt: 'a', segments: 2, segmentFrames: 18 }, /segment frames must be one of 17, 21, 25, 29, 33/],
  ])('refuses %o with a message naming the option', (shape, message) => {
    const result = plan(shape);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(message);
  });

  it("refuses more segments than the operators' cap, saying the cap and what it buys", () => {
    const result = planLong({ prompt: 'a', seconds: 60 }, pack, 12);
    expect(result.ok === false && result.error.message).toBe(
      'a long video is at most 12 segments here (385 frames, about 24 s); this one needs 30. Ask for fewer seconds or segments.',
    );
  });

  it('names segment jobs so their chain can be read back from the id', () => {
    expect(parseSegmentJobId(segmentJobId('cmabc-123', 7))).toEqual({ jobId: 'cmabc-123', index: 7 });
    expect(parseSegmentJobId('cmabc-123')).toBeUndefined();
  });
});

describe("the front ends' /long input", () => {
  it('reads a storyboard one prompt per line, without blank lines or surrounding spaces', () => {
    expect(parseStoryboard('  a red circle \r\n\n b blue square\n\n')).toEqual(['a red circle', 'b blue square']);
    expect(parseStoryboard('\n \n')).toEqual([]);
  });

  it('takes --seconds and --segments in the one option grammar, for /long only', () => {
    expect(parseLongArguments('--seconds 12.5 --seed 7 --frames=17 a red circle')).toEqual({
      ok: true,
      value: { options: { seconds: 12.5, seed: 7, frames: 17 }, rest: ['a', 'red', 'circle'] },
    });
    expect(parseLongArguments('--segments 1.5 x')).toMatchObject({ ok: false });
    const refused = parseCommandArguments('--seconds 3 x');
    expect(refused.ok === false && refused.error.message).toMatch(/unknown option --seconds/);
  });

  it("makes the core's request: a storyboard of several lines, or one prompt (one line with a length is a prompt)", () => {
    expect(longAsk({ frames: 17, steps: 1, seed: 7 }, { storyboard: 'a\nb\n' })).toEqual({
      storyboard: ['a', 'b'],
      segmentFrames: 17,
      steps: 1,
      seed: 7,
    });
    expect(longAsk({ segments: 4 }, { storyboard: ' one line ' })).toEqual({ prompt: 'one line', segments: 4 });
    expect(longAsk({}, { storyboard: 'one line' })).toEqual({ storyboard: ['one line'] });
    expect(longAsk({ seconds: 3, ...{ noiseMultipliers: [0.2] } }, { prompt: ' p ' })).toEqual({
      prompt: 'p',
      seconds: 3,
    });
    // Nothing typed: the core refuses it, naming what is missing.
    expect(longAsk({ seconds: 3 }, { prompt: '  ' })).toEqual({ seconds: 3 });
  });
});
