import { randomInt } from 'node:crypto';
import { LIMITS } from '../../commands/index.ts';

/**
 * A random seed over the whole range a request may carry, [0, 2^32) (`LIMITS.seed`), uniform (node:crypto's
 * `randomInt` rejects the biased draws `Math.random() * n` keeps). The one place seeds are drawn: the front-end core
 * for a request without one and for every Re-roll (`remake` in bot/core/lookup.ts, so no front end draws its own),
 * and the `pusa` CLI.
 */
export function drawSeed(): number {
  return randomInt(LIMITS.seed.min, LIMITS.seed.max + 1);
}
