import { describe, expect, it } from 'vitest';
import { runTrace } from '../../cli/trace.ts';
import { expectAllClose } from '../helpers/numeric.ts';
import { loadOracle } from '../helpers/oracle.ts';

const oracle = loadOracle();

/**
 * The whole sampler against Pusa-VidGen's own schedulers driven by torch (test/fixtures/README.md): model timesteps
 * exactly, σ steps to float32 precision, final latents to 1e-4 relative. The bf16 columns bound how far a reference
 * that computes the stand-in model in bf16 can sit from our float32 combine.
 */
describe('pusa trace parity with the reference schedulers', () => {
  it.each(oracle.traces.map((c, i) => [i, JSON.stringify(c.config), c] as const))(
    'case %i %s',
    async (_i, _label, c) => {
      const { config } = c;

      const trace = await runTrace({
        ...config,
        conditions: config.conds.map(([index, multiplier]) => ({ index, multiplier })),
      });

      expect(trace.steps).toHaveLength(c.fp32.steps.length);
      trace.steps.forEach((step, k) => {
        expect(step.t).toEqual(c.fp32.steps[k]!.t);
        expectAllClose(step.dsigma, c.fp32.steps[k]!.dsigma, { atol: 1e-7 });
      });
      expect(Math.abs(trace.final.sumSq - c.fp32.final.sumSq)).toBeLessThanOrEqual(1e-4 * c.fp32.final.sumSq);
      expectAllClose(trace.final.frameMean, c.fp32.final.frameMean, { rtol: 1e-4, atol: 1e-5 });
      expectAllClose(trace.final.first, c.fp32.final.first, { rtol: 1e-3, atol: 1e-5 });
      expect(Math.abs(trace.final.sumSq - c.bf16.final.sumSq)).toBeLessThanOrEqual(5e-3 * c.bf16.final.sumSq);
    },
  );
});
