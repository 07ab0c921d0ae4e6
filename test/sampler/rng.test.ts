import { describe, expect, it } from 'vitest';
import { createTorchGenerator, randn } from '../../sampler/index.ts';
import { expectAllClose } from '../helpers/numeric.ts';
import { loadOracle } from '../helpers/oracle.ts';

describe('createTorchGenerator', () => {
  it('yields the mt19937 sequence of torch.manual_seed(0)', () => {
    const generator = createTorchGenerator(0);

    const first = Array.from({ length: 5 }, () => generator.nextUint32());

    // Also numpy.random.RandomState(0)'s raw 32-bit outputs: both seed mt19937 with init_genrand.
    expect(first).toEqual([2357136044, 2546248239, 3071714933, 3626093760, 2588848963]);
  });

  it('uses only the low 32 bits of larger seeds, as torch does', () => {
    const a = createTorchGenerator(5);
    const b = createTorchGenerator(2n ** 32n + 5n);

    expect(a.nextUint32()).toBe(b.nextUint32());
  });
});

describe('randn', () => {
  it('matches the §A.10 reference values for seed 0, shape [1,16,21,90,160]', () => {
    const noise = randn([1, 16, 21, 90, 160], 0);

    expectAllClose(
      noise.subarray(0, 16),
      [
        -1.1258398, -1.1523602, -0.2505786, -0.4338788, 0.8487104, 0.6920092, -0.3160128, -2.1152194, 0.3222749,
        -1.2633348, 0.3499832, 0.3081339, 0.1198415, 1.2376579, 1.1167772, -0.2472782,
      ],
      { atol: 1.5e-6 },
    );
    expectAllClose(noise.subarray(-4), [-0.9483067, 0.8438734, -1.3816133, 0.2699478], { atol: 1.5e-6 });
  });

  it.each(loadOracle().noise.map((c) => [c.shape.join('×'), c.seed, c] as const))(
    'equals torch.randn for shape %s, seed %s',
    (_shape, seed, expected) => {
      const noise = randn(expected.shape, seed);
      let sum = 0;
      for (const v of noise) sum += v;

      expectAllClose(noise.subarray(0, 8), expected.first.slice(0, Math.min(8, noise.length)), { atol: 2e-6 });
      expectAllClose(noise.subarray(Math.max(0, noise.length - 4)), expected.last, { atol: 2e-6 });
      expect(Math.abs(sum - expected.sum)).toBeLessThan(1e-6 * noise.length + 1e-6);
    },
  );

  it('gives bit-identical noise for the same seed', () => {
    expect(randn([3, 5, 7], 99)).toEqual(randn([3, 5, 7], 99));
    expect(randn([3, 5, 7], 99)).not.toEqual(randn([3, 5, 7], 100));
  });

  it('rejects a fractional seed and a negative dimension', () => {
    expect(() => randn([4], 1.5)).toThrow(/seed must be an integer, got 1\.5/);
    expect(() => randn([4, -1], 0)).toThrow(/noise shape must be non-negative integers/);
  });
});
