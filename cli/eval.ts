import process from 'node:process';
import { parseArgs } from 'node:util';
import { CHAIN_SEED } from '../eval/chain.ts';
import { belowFloors, DEFAULT_SIZES, FLOORS, runEval } from '../eval/run-eval.ts';
import { loadPusaModel } from '../worker/runtime/model.ts';
import type { ExecutionProvider } from '../worker/runtime/sessions.ts';
import { refuseUnrunnablePack } from './pack-check.ts';

/**
 * `npm run eval [-- --json] [--model DIR] [--t2v N --i2v N --start-end N --extend N --chains N --segments N]`:
 * pusa-mini's quality table recomputed by the product. Exits 1 when a metric is below its floor.
 */
const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    model: { type: 'string', default: 'models/pusa-mini' },
    t2v: { type: 'string' },
    i2v: { type: 'string' },
    'start-end': { type: 'string' },
    extend: { type: 'string' },
    chains: { type: 'string' },
    segments: { type: 'string' },
    threads: { type: 'string' },
  },
});
const size = (v: string | undefined, fallback: number) =>
  v === undefined ? fallback : Math.max(1, Number.parseInt(v, 10));
const sizes = {
  t2v: size(values.t2v, DEFAULT_SIZES.t2v),
  i2v: size(values.i2v, DEFAULT_SIZES.i2v),
  startEnd: size(values['start-end'], DEFAULT_SIZES.startEnd),
  extend: size(values.extend, DEFAULT_SIZES.extend),
  chains: size(values.chains, DEFAULT_SIZES.chains),
  // a chain needs a join to measure
  segments: Math.max(2, size(values.segments, DEFAULT_SIZES.segments)),
};
const provider: ExecutionProvider =
  values.threads === undefined ? { name: 'cpu' } : { name: 'cpu', threads: Number(values.threads) };
await refuseUnrunnablePack(values.model, provider);
const model = await loadPusaModel(values.model, provider);
const started = performance.now();
const metrics = await runEval(model, sizes, (what) => {
  if (!values.json) process.stderr.write(`\r${what.padEnd(20)}`);
});
await model.release();
const failures = belowFloors(metrics);
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ ...metrics, floors: FLOORS, failures, seconds: (performance.now() - started) / 1000 })}\n`,
  );
} else {
  const row = (name: string, value: string, floor: string) =>
    process.stdout.write(`| ${name.padEnd(44)} | ${value.padStart(16)} | ${floor.padStart(8)} |\n`);
  process.stderr.write('\r');
  process.stdout.write(
    `${metrics.model}, held-out seeds from ${9_500_000}, ${((performance.now() - started) / 1000).toFixed(0)} s\n\n`,
  );
  row('metric', 'measured', 'floor');
  process.stdout.write(`|${'-'.repeat(46)}|${'-'.repeat(18)}|${'-'.repeat(10)}|\n`);
  row(
    `i2v frame-0 PSNR, m=0 (${sizes.i2v} clips)`,
    `${metrics.i2vFirstFramePsnr.mean.toFixed(2)} dB`,
    `${FLOORS.i2vFirstFramePsnr} dB`,
  );
  row(
    `t2v colour and direction (${sizes.t2v} clips)`,
    `${(metrics.t2vAdherence.both * 100).toFixed(0)} %`,
    `${FLOORS.t2vAdherence * 100} %`,
  );
  row(
    '  colour alone / direction alone',
    `${(metrics.t2vAdherence.color * 100).toFixed(0)} % / ${(metrics.t2vAdherence.direction * 100).toFixed(0)} %`,
    '',
  );
  row(
    `start–end PSNR start / end, m=0 (${sizes.startEnd})`,
    `${metrics.startEndPsnr.start.toFixed(1)} / ${metrics.startEndPsnr.end.toFixed(1)} dB`,
    `${FLOORS.startEndPsnr} dB`,
  );
  row(
    `extend seam / in-clip step (${sizes.extend} clips)`,
    `${metrics.extendSeamRatio.mean.toFixed(2)} (max ${metrics.extendSeamRatio.max.toFixed(2)})`,
    `≤ ${FLOORS.extendSeamRatio}`,
  );
  row('temporal step, mean |Δ| per frame (0..255)', metrics.temporalStep.toFixed(2), '');
  const { chain } = metrics;
  const joins = sizes.chains * (sizes.segments - 1);
  row(
    `chain: seam ratio at every join (${joins} joins)`,
    `${chain.seamRatio.mean.toFixed(2)} (max ${chain.seamRatio.max.toFixed(2)})`,
    `≤ ${FLOORS.chainSeamRatio}`,
  );
  row(
    `chain: segments in the prompted colour (${sizes.chains * sizes.segments})`,
    `${(chain.colorKept.all * 100).toFixed(1)} %`,
    `${FLOORS.chainColorKept * 100} %`,
  );
  row(
    `chain: subject continuous at the join (${chain.centroid.joins})`,
    `${(chain.centroid.continuous * 100).toFixed(1)} %`,
    `${FLOORS.chainCentroidContinuous * 100} %`,
  );
  row(
    '  its move at such a join / per frame inside',
    `${chain.centroid.joinJump.toFixed(2)} / ${chain.centroid.withinStep.toFixed(2)} px`,
    '',
  );
  row('chain: brightness drift from segment 1, max', `${chain.brightness.maxDrift.toFixed(2)} / 255`, '');
  process.stdout.write(
    `\nchains: ${sizes.chains} × ${sizes.segments} segments, seeds ${CHAIN_SEED} + 100·chain + segment; per segment:\n`,
  );
  const line = (name: string, values: readonly number[], format: (v: number) => string) =>
    process.stdout.write(
      `${name.padEnd(24)}${values.map((v) => (Number.isNaN(v) ? '–' : format(v)).padStart(6)).join('')}\n`,
    );
  const percent = (v: number) => `${(v * 100).toFixed(0)}`;
  line(
    'segment',
    chain.colorKept.perSegment.map((_, i) => i + 1),
    String,
  );
  line('colour kept %', chain.colorKept.perSegment, percent);
  line('colour distance (0..441)', chain.colorDistance, (v) => v.toFixed(0));
  line('direction kept %', chain.directionKept, percent);
  line('object found, % frames', chain.presence, percent);
  line('centroid off centre, px', chain.centreOffset, (v) => v.toFixed(1));
  line('brightness Δ, 0..255', chain.brightness.perSegment, (v) => v.toFixed(2));
  line('seam ratio at its join', [Number.NaN, ...chain.seamRatio.perJoin], (v) => v.toFixed(2));
  if (failures.length > 0) process.stdout.write(`\nbelow floor: ${failures.join('; ')}\n`);
}
process.exitCode = failures.length > 0 ? 1 : 0;
