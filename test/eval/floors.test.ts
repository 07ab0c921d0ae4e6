import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { belowFloors, type EvalMetrics, FLOORS, runEval } from '../../eval/run-eval.ts';
import { loadPusaModel, type PusaModel } from '../../worker/runtime/model.ts';
import { PACK_DIR } from '../helpers/pack.ts';

/**
 * The quality floors of issue [2], recomputed by the product on fixed held-out seeds (the same run as `npm run eval`):
 * a regression in the sampler, the runtime or the pack fails the build here.
 */
describe('pusa-mini quality floors (npm run eval)', () => {
  let model: PusaModel;
  let metrics: EvalMetrics;
  beforeAll(async () => {
    model = await loadPusaModel(PACK_DIR);
    metrics = await runEval(model);
    process.stdout.write(`eval: ${JSON.stringify(metrics)}\n`);
  }, 600_000);
  afterAll(async () => {
    await model.release();
  });

  it('keeps the conditioning image as frame 0 of image-to-video (m = 0)', () => {
    expect(metrics.i2vFirstFramePsnr.min).toBeGreaterThanOrEqual(FLOORS.i2vFirstFramePsnr);
  });

  it('moves the prompted colour in the prompted direction in text-to-video', () => {
    expect(metrics.t2vAdherence.both).toBeGreaterThanOrEqual(FLOORS.t2vAdherence);
  });

  it('honours start and end frames', () => {
    expect(metrics.startEndPsnr.min).toBeGreaterThanOrEqual(FLOORS.startEndPsnr);
  });

  it('continues an extended clip without a visible seam', () => {
    expect(metrics.extendSeamRatio.mean).toBeLessThanOrEqual(FLOORS.extendSeamRatio);
  });

  it('reports no failure at all', () => {
    expect(belowFloors(metrics)).toEqual([]);
  });
});
