import { describe, expect, it } from 'vitest';
import { createFlowMatchSchedule, modelTimesteps, SamplerError, sigmaAt } from '../../sampler/index.ts';
import { expectAllClose } from '../helpers/numeric.ts';

// Golden tables of ../shared/spec/pusa-reference.md §A.9 (torch 2.11, shift 5).
const TABLES = {
  30: {
    sigmas: [
      1, 0.99315, 0.98592, 0.97826, 0.97015, 0.96154, 0.95238, 0.94262, 0.9322, 0.92105, 0.90909, 0.89623, 0.88235,
      0.86735, 0.85106, 0.83333, 0.81395, 0.79268, 0.76923, 0.74324, 0.71429, 0.68182, 0.64516, 0.60345, 0.55556, 0.5,
      0.43478, 0.35714, 0.26316, 0.14706,
    ],
    t: [
      1000, 992, 984, 980, 972, 960, 952, 944, 932, 920, 908, 896, 884, 868, 852, 832, 812, 792, 768, 744, 716, 680,
      644, 604, 556, 500, 434, 358, 264, 147,
    ],
    multipliers: {
      0.2: [
        200, 198, 197, 196, 194, 192, 190, 189, 186, 184, 182, 179, 177, 174, 170, 166, 162, 158, 154, 149, 143, 136,
        129, 121, 111, 100, 87, 71, 52, 29,
      ],
      0.5: [
        500, 496, 492, 490, 486, 480, 476, 472, 466, 460, 454, 448, 442, 434, 426, 416, 406, 396, 384, 372, 358, 340,
        322, 302, 278, 250, 217, 179, 132, 73,
      ],
    },
  },
  10: {
    sigmas: [1, 0.97826, 0.95238, 0.92105, 0.88235, 0.83333, 0.76923, 0.68182, 0.55556, 0.35714],
    t: [1000, 980, 952, 920, 884, 832, 768, 680, 556, 358],
    multipliers: {
      0.2: [200, 196, 190, 184, 177, 166, 154, 136, 111, 71],
      0.3: [300, 294, 286, 276, 266, 250, 230, 204, 167, 107],
    },
  },
  4: {
    sigmas: [1, 0.9375, 0.833333, 0.625],
    t: [1000, 936, 832, 624],
    multipliers: { 0.2: [200, 187, 166, 125], 0.3: [300, 280, 250, 187], 0.5: [500, 468, 416, 312] },
  },
} as const;

describe('createFlowMatchSchedule', () => {
  it.each(Object.entries(TABLES))('reproduces the §A.9 sigmas for N=%s', (n, table) => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: Number(n), shift: 5 });

    expectAllClose(schedule.sigmas, table.sigmas, { atol: 6e-6 });
    expect(sigmaAt(schedule, Number(n))).toBe(0);
  });

  it('produces strictly decreasing timesteps equal to 1000·σ', () => {
    for (const n of [1, 2, 7, 30, 50, 200]) {
      const { sigmas, timesteps } = createFlowMatchSchedule({ numInferenceSteps: n });

      for (let k = 1; k < n; k++) expect(timesteps[k]!).toBeLessThan(timesteps[k - 1]!);
      for (let k = 0; k < n; k++) expect(timesteps[k]).toBe(Math.fround(sigmas[k]! * 1000));
    }
  });

  it('starts below 1 when the denoising strength is below 1', () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 10, shift: 1, denoisingStrength: 0.5 });

    expect(schedule.sigmas[0]).toBe(0.5);
  });

  it.each([
    [{ numInferenceSteps: 0 }, /numInferenceSteps must be an integer in 1\.\.1000, got 0/],
    [{ numInferenceSteps: 2.5 }, /got 2\.5/],
    [{ numInferenceSteps: 10, shift: 0 }, /shift must be a positive number, got 0/],
    [{ numInferenceSteps: 10, shift: Number.NaN }, /shift must be a positive number/],
    [{ numInferenceSteps: 10, denoisingStrength: 1.5 }, /denoisingStrength must be in \(0, 1\], got 1\.5/],
  ])('rejects %o', (options, message) => {
    expect(() => createFlowMatchSchedule(options)).toThrow(SamplerError);
    expect(() => createFlowMatchSchedule(options)).toThrow(message);
  });
});

describe('modelTimesteps', () => {
  it.each(Object.entries(TABLES))(
    'gives the §A.9 model timesteps of plain and condition frames for N=%s',
    (n, table) => {
      const schedule = createFlowMatchSchedule({ numInferenceSteps: Number(n), shift: 5 });
      const multipliers = Object.entries(table.multipliers);

      for (let k = 0; k < Number(n); k++) {
        const conditions = multipliers.map(([m], index) => ({ index, multiplier: Number(m) }));
        const tv = modelTimesteps(schedule, k, conditions.length + 1, conditions);

        expect(tv[conditions.length]).toBe(table.t[k]);
        for (const [index, [, column]] of multipliers.entries()) expect(tv[index]).toBe(column[k]);
      }
    },
  );

  it('does not truncate a run without condition frames', () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 50, shift: 1 });

    const tv = modelTimesteps(schedule, 49, 3, []);

    expect(tv[0]).toBe(20);
    expect(Array.from(modelTimesteps(schedule, 48, 2, []))).toEqual([40, 40]);
    // 1000/30 = 33.33… rounds to the bf16 value 33.25 and keeps its fraction.
    expect(modelTimesteps(createFlowMatchSchedule({ numInferenceSteps: 30, shift: 1 }), 29, 1, [])[0]).toBe(33.25);
  });

  it('truncates toward zero when the run has condition frames', () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 30, shift: 1 });

    const tv = modelTimesteps(schedule, 29, 2, [{ index: 0, multiplier: 0.5 }]);

    expect(Array.from(tv)).toEqual([16, 33]);
  });

  it('holds a multiplier-0 frame at timestep 0 at every step', () => {
    const schedule = createFlowMatchSchedule({ numInferenceSteps: 12 });

    for (let k = 0; k < 12; k++) expect(modelTimesteps(schedule, k, 3, [{ index: 1, multiplier: 0 }])[1]).toBe(0);
  });
});
