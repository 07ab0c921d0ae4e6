import { describe, expect, it } from 'vitest';
import {
  createFlowMatchSchedule,
  type Denoiser,
  planImageToVideo,
  planKeyframes,
  planTextToVideo,
  randn,
  SamplerError,
  sample,
  step,
  stepPerFrame,
  tensor,
  toBf16,
} from '../../sampler/index.ts';
import { createFakeDenoiser } from '../fakes/fake-denoiser.ts';
import { expectAllClose } from '../helpers/numeric.ts';

const C = 2;
const F = 4;
const H = 3;
const W = 5;
const PLANE = H * W;
const DIMS = [1, C, F, H, W];

function noise(seed: number) {
  return tensor(randn(DIMS, seed), DIMS);
}

function frameOf(data: Float32Array, frame: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < C; c++) out.push(...data.subarray((c * F + frame) * PLANE, (c * F + frame + 1) * PLANE));
  return out;
}

describe('stepPerFrame', () => {
  it('equals the scalar step when every frame shares one σ step', () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 8, shift: 3 });
    const x = noise(0);
    const v = noise(1);
    const delta = Math.fround(schedule.sigmas[3]! - schedule.sigmas[2]!);

    const actual = stepPerFrame(new Float32Array(F).fill(delta), v, x);

    expect(actual.data).toEqual(step(schedule, 2, v, x).data);
  });

  it('moves each frame by its own σ step and leaves a zero-step frame unchanged', () => {
    const x = noise(0);
    const v = noise(1);

    const out = stepPerFrame(Float32Array.from([-0.5, 0, -0.25, -1]), v, x);

    expect(frameOf(out.data, 1)).toEqual(frameOf(x.data, 1));
    expectAllClose(
      frameOf(out.data, 3),
      frameOf(x.data, 3).map((xi, i) => xi - frameOf(v.data, 3)[i]!),
      { atol: 1e-6 },
    );
  });

  it('rejects a wrong number of frame σ steps and mismatched shapes', () => {
    expect(() => stepPerFrame(new Float32Array(3), noise(1), noise(0))).toThrow(/expected 4 frame sigma deltas, got 3/);
    expect(() => stepPerFrame(new Float32Array(4), tensor(new Float32Array(8), [1, 2, 4, 1, 1]), noise(0))).toThrow(
      /differ from sample dims/,
    );
  });
});

describe('sample', () => {
  it('keeps a multiplier-0 condition frame exactly at its bf16 latent through every step', async () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 10 });
    const image = Float32Array.from({ length: C * PLANE }, (_, i) => Math.sin(i) * 1.3);
    const denoiser = createFakeDenoiser(C, PLANE);
    const seen: number[][] = [];

    const out = await sample({
      schedule,
      plan: planImageToVideo({ frames: F, image, multiplier: 0 }),
      denoiser,
      noise: noise(3),
      guidanceScale: 3,
      onStep: ({ latents }) => seen.push(frameOf(latents.data, 0)),
    });

    const expected = Array.from(image, toBf16);
    expect(frameOf(out.data, 0)).toEqual(expected);
    for (const frame of seen) expect(frame).toEqual(expected);
    for (const call of denoiser.calls) expect(call.frameTimesteps[0]).toBe(0);
  });

  it('noises a condition frame once, at the first step, to σ = m with the run noise', async () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 4 });
    const image = new Float32Array(C * PLANE).fill(0.75);
    const eps = noise(5);
    const denoiser = createFakeDenoiser(C, PLANE);

    await sample({
      schedule,
      plan: planImageToVideo({ frames: F, image, multiplier: 0.2 }),
      denoiser,
      noise: eps,
      guidanceScale: 1,
    });

    const first = frameOf(denoiser.calls[0]!.sample.data, 0);
    const epsFrame = frameOf(eps.data, 0).map(toBf16);
    expectAllClose(
      first,
      epsFrame.map((e) => toBf16(0.8 * 0.75 + 0.2 * e)),
      { atol: 1e-7 },
    );
    expect(denoiser.calls[0]!.frameTimesteps[0]).toBe(200);
  });

  it('gives bit-identical latents for the same seed and different ones for another seed', async () => {
    const run = (seed: number) =>
      sample({
        schedule: createFlowMatchSchedule({ numInferenceSteps: 6 }),
        plan: planTextToVideo(F),
        denoiser: createFakeDenoiser(C, PLANE),
        noise: noise(seed),
        guidanceScale: 2,
      });

    const [a, b, c] = await Promise.all([run(11), run(11), run(12)]);

    expect(a.data).toEqual(b.data);
    expect(a.data).not.toEqual(c.data);
  });

  it('skips the negative pass when the guidance scale is 1 and applies v_neg + g·(v_pos − v_neg) otherwise', async () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 1 });
    const plain = createFakeDenoiser(C, PLANE);
    const x = noise(2);

    const outPlain = await sample({ schedule, plan: planTextToVideo(F), denoiser: plain, noise: x, guidanceScale: 1 });
    const guided = createFakeDenoiser(C, PLANE);
    const outGuided = await sample({
      schedule,
      plan: planTextToVideo(F),
      denoiser: guided,
      noise: x,
      guidanceScale: 4,
    });

    expect(plain.calls.map((c) => c.withNegative)).toEqual([false]);
    expect(guided.calls.map((c) => c.withNegative)).toEqual([true]);
    const xb = Array.from(x.data, toBf16);
    // One step from σ=1 to 0: x0 = x − v with t = 1000 → v_pos = x/2 + 0.1, v_neg = x/2.
    expectAllClose(
      outPlain.data,
      xb.map((xi) => xi - (xi / 2 + 0.1)),
      { atol: 1e-6 },
    );
    expectAllClose(
      outGuided.data,
      xb.map((xi) => xi - (xi / 2 + 4 * 0.1)),
      { atol: 1e-6 },
    );
  });

  it('passes fp32 latents through unchanged when the pack computes in fp32', async () => {
    const denoiser = createFakeDenoiser(C, PLANE);
    const x = noise(4);

    await sample({
      schedule: createFlowMatchSchedule({ numInferenceSteps: 2 }),
      plan: planTextToVideo(F),
      denoiser,
      noise: x,
      guidanceScale: 1,
      modelInputPrecision: 'fp32',
    });

    const second = denoiser.calls[1]!.sample.data;
    expect(second.some((v) => v !== toBf16(v))).toBe(true);
  });

  it('stops before the next step when the signal aborts and reports every finished step', async () => {
    const controller = new AbortController();
    const reports: number[] = [];

    const run = sample({
      schedule: createFlowMatchSchedule({ numInferenceSteps: 10 }),
      plan: planTextToVideo(F),
      denoiser: createFakeDenoiser(C, PLANE),
      noise: noise(0),
      guidanceScale: 1,
      signal: controller.signal,
      onStep: ({ index, total }) => {
        reports.push(index);
        expect(total).toBe(10);
        if (index === 2) controller.abort(new Error('cancelled by user'));
      },
    });

    await expect(run).rejects.toThrow('cancelled by user');
    expect(reports).toEqual([0, 1, 2]);
  });

  it.each([
    [
      'noise frames differ from the plan',
      { plan: planTextToVideo(5) },
      /noise has 4 latent frames but the plan expects 5/,
    ],
    ['a negative guidance scale', { guidanceScale: -1 }, /guidance scale must be a finite number ≥ 0, got -1/],
    [
      'a condition latent of the wrong size',
      { plan: planKeyframes({ frames: F, keyframes: [{ index: 1, multiplier: 0.2, latent: new Float32Array(7) }] }) },
      /condition latent for frame 1 has 7 values, expected 30 \(2×3×5\)/,
    ],
    [
      'noise that is not [1,C,F,h,w]',
      { noise: tensor(new Float32Array(8), [2, 4]) },
      /noise must have dims \[1, channels, frames, height, width\], got \[2, 4\]/,
    ],
  ])('rejects %s', async (_label, override, message) => {
    const options = {
      schedule: createFlowMatchSchedule({ numInferenceSteps: 2 }),
      plan: planTextToVideo(F),
      denoiser: createFakeDenoiser(C, PLANE),
      noise: noise(0),
      guidanceScale: 1,
      ...override,
    };

    await expect(sample(options)).rejects.toThrow(SamplerError);
    await expect(sample(options)).rejects.toThrow(message);
  });

  it('rejects a model prediction of the wrong size with a clear error', async () => {
    const broken: Denoiser = { predict: async () => ({ positive: new Float32Array(3) }) };

    await expect(
      sample({
        schedule: createFlowMatchSchedule({ numInferenceSteps: 2 }),
        plan: planTextToVideo(F),
        denoiser: broken,
        noise: noise(0),
        guidanceScale: 1,
      }),
    ).rejects.toThrow(/the model's positive prediction has 3 values, expected 120/);
  });
});
