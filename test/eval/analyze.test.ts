import { describe, expect, it } from 'vitest';
import {
  analyzeClip,
  colorDistance,
  frameDifference,
  meanStepDifference,
  nearestColor,
  psnr,
  trackObject,
} from '../../eval/analyze.ts';
import { COLORS } from '../../eval/palette.ts';
import { heldOutScenes, moved, promptFor, renderScene } from '../../eval/scenes.ts';

/** A clip of `count` frames of a scene moving `speed` px per frame, rendered like the evaluation's inputs. */
async function movingClip(scene: Parameters<typeof renderScene>[0], count: number, speed: number) {
  const frames = await Promise.all(Array.from({ length: count }, (_, t) => renderScene(moved(scene, t * speed))));
  const rgb = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  for (const [t, f] of frames.entries()) rgb.set(f, t * f.length);
  return { width: 128, height: 128, count, rgb };
}

describe('analyzeClip', () => {
  it.each(heldOutScenes(123, 8).map((scene) => [promptFor(scene), scene] as const))(
    'reads "%s" off a rendered clip',
    async (_prompt, scene) => {
      const clip = await movingClip({ ...scene, x: 64, y: 64 }, 17, 1.2);

      const verdict = analyzeClip(clip);

      expect(verdict.color).toBe(scene.color);
      expect(verdict.direction).toBe(scene.move);
    },
  );

  it('calls a still object static and an empty clip none', async () => {
    const scene = heldOutScenes(5, 1)[0]!;
    const still = await movingClip(scene, 9, 0);
    const empty = { width: 128, height: 128, count: 9, rgb: new Uint8Array(128 * 128 * 3 * 9).fill(20) };

    expect(analyzeClip(still).direction).toBe('static');
    expect(analyzeClip(empty)).toEqual({ color: null, direction: 'none', dx: 0, dy: 0 });
  });
});

describe('trackObject', () => {
  it('follows the centroid and colour of a moving shape frame by frame, and finds nothing in an empty frame', async () => {
    const scene = { ...heldOutScenes(77, 1)[0]!, shape: 'square' as const, x: 50, y: 60, move: 'moves right' as const };
    const clip = await movingClip(scene, 3, 5);
    const empty = { width: 128, height: 128, count: 1, rgb: new Uint8Array(128 * 128 * 3).fill(20) };

    const track = trackObject(clip);

    expect(track.map((p) => p?.x)).toEqual([expect.closeTo(50, 0), expect.closeTo(55, 0), expect.closeTo(60, 0)]);
    expect(track.map((p) => p?.y)).toEqual([expect.closeTo(60, 0), expect.closeTo(60, 0), expect.closeTo(60, 0)]);
    expect(nearestColor(track[0]!.rgb)).toBe(scene.color);
    expect(colorDistance(track[0]!.rgb, COLORS[scene.color])).toBeLessThan(15); // anti-aliased edges
    expect(trackObject(empty)).toEqual([null]);
  });
});

describe('image metrics', () => {
  it('gives PSNR 99 for identical images and about 20 dB for a uniform error of 25.5', () => {
    const a = new Uint8Array(300).fill(100);

    expect(psnr(a, a)).toBe(99);
    expect(psnr(a, new Uint8Array(300).fill(125))).toBeCloseTo(20 * Math.log10(255 / 25), 6);
  });

  it('measures frame-to-frame change', async () => {
    const clip = await movingClip(heldOutScenes(9, 1)[0]!, 5, 2);

    expect(meanStepDifference(clip)).toBeGreaterThan(0);
    expect(frameDifference(clip, 0, clip, 0)).toBe(0);
  });
});
