import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { joinClips } from '../../media/concat.ts';
import { MediaError } from '../../media/errors.ts';
import { decodeFrames, encodeMp4 } from '../../media/mp4.ts';

const side = 64;
/** A clip of solid grey frames, one level each: a frame shown twice or dropped is seen in the levels. */
const clip = (levels: number[]) =>
  encodeMp4(
    {
      width: side,
      height: side,
      count: levels.length,
      rgb: Uint8Array.from(levels.flatMap((l) => Array(side * side * 3).fill(l))),
    },
    { fps: 16 },
  ).then((r) => r.mp4);

async function levelsOf(mp4: Buffer): Promise<number[]> {
  const path = join(await mkdtemp(join(tmpdir(), 'pusa-join-test-')), 'joined.mp4');
  await writeFile(path, mp4);
  const frames = await decodeFrames(path, side, side);
  const plane = side * side * 3;
  return Array.from({ length: frames.count }, (_, t) => {
    let sum = 0;
    for (let i = t * plane; i < (t + 1) * plane; i++) sum += frames.rgb[i] as number;
    return Math.round(sum / plane);
  });
}

describe('joinClips', () => {
  it("drops each part's repeated leading frames: every frame once, in order, none twice at a join", async () => {
    const parts = [
      { mp4: await clip([20, 40, 60, 80, 100]), skipFrames: 0 },
      // Its first frame is the one before's last (what a carried latent decodes to): dropped.
      { mp4: await clip([100, 120, 140, 160, 180]), skipFrames: 1 },
      { mp4: await clip([180, 200, 220, 240, 250]), skipFrames: 1 },
    ];
    const { mp4 } = await joinClips(parts, { fps: 16 });
    const levels = await levelsOf(mp4);
    const expected = [20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220, 240, 250];
    expect(levels).toHaveLength(expected.length);
    for (const [i, level] of levels.entries()) expect(Math.abs(level - (expected[i] as number))).toBeLessThan(8);
  });

  it('steps down the quality to fit a byte budget, and says so when even the lowest does not fit', async () => {
    const noisy = Uint8Array.from({ length: side * side * 3 * 17 }, (_, i) => (i * 2654435761) % 251);
    const { mp4 } = await encodeMp4({ width: side, height: side, count: 17, rgb: noisy }, { fps: 16 });
    const best = await joinClips(
      [
        { mp4, skipFrames: 0 },
        { mp4, skipFrames: 1 },
      ],
      { fps: 16 },
    );
    const fitted = await joinClips(
      [
        { mp4, skipFrames: 0 },
        { mp4, skipFrames: 1 },
      ],
      {
        fps: 16,
        maxBytes: Math.floor(best.mp4.length / 2),
      },
    );
    expect(fitted.crf).toBeGreaterThan(best.crf);
    expect(fitted.mp4.length).toBeLessThanOrEqual(best.mp4.length / 2);
    await expect(joinClips([{ mp4, skipFrames: 0 }], { fps: 16, maxBytes: 100 })).rejects.toSatisfy(
      (error: unknown) => error instanceof MediaError && error.code === 'Budget',
    );
  });
});
