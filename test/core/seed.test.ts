import { describe, expect, it } from 'vitest';
import { drawSeed } from '../../bot/core/seed.ts';
import { LIMITS } from '../../commands/index.ts';

describe('drawSeed', () => {
  it('draws whole numbers over all of [0, 2^32), the range a request may carry', () => {
    const seeds = Array.from({ length: 20_000 }, drawSeed);

    expect(seeds.every((s) => Number.isInteger(s) && s >= 0 && s <= 2 ** 32 - 1)).toBe(true);
    expect(LIMITS.seed).toEqual({ min: 0, max: 2 ** 32 - 1 });
    // 20,000 uniform draws: each bound below fails with probability under 1e-80
    expect(seeds.filter((s) => s >= 2 ** 31).length).toBeGreaterThan(9_000); // the playground drew below 2^31
    expect(Math.max(...seeds)).toBeGreaterThan(0.99 * 2 ** 32);
    expect(Math.min(...seeds)).toBeLessThan(0.01 * 2 ** 32);
    expect(new Set(seeds).size).toBeGreaterThan(19_990);
  });
});
