import { expect } from 'vitest';

/** Asserts |a − e| ≤ atol + rtol·|e| elementwise, reporting the worst element and its index on failure. */
export function expectAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 0, atol = 0 }: { rtol?: number; atol?: number },
): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i]! - expected[i]!) - (atol + rtol * Math.abs(expected[i]!));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `arrays differ at index ${worst}: actual ${actual[worst]} vs expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`,
    );
  }
}
