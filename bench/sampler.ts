/**
 * The sampler's own cost per step, everything except the model call (timestep vector, σ lookup, bf16 model input,
 * guidance combine, per-frame Euler update), on a Wan 480p latent [1, 16, 21, 60, 104] with guidance.
 * Goal: ≤ 15 ms per step on one core. Prints figures; asserts nothing.
 *
 * The model is a stand-in that returns precomputed predictions at no cost, so the time measured is the core's alone.
 * Per-step cost = (time of a 31-step run − time of a 1-step run) / 30, which removes the one-off setup.
 */
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import {
  createFlowMatchSchedule,
  type Denoiser,
  planImageToVideo,
  planTextToVideo,
  randn,
  sample,
  tensor,
} from '../sampler/index.ts';

const dims = [1, 16, 21, 60, 104];
const size = dims.reduce((a, b) => a * b, 1);
const positive = randn([size], 1);
const negative = randn([size], 2);
const instant: Denoiser = {
  predict: async ({ withNegative }) => (withNegative ? { positive, negative } : { positive }),
};
const noise = tensor(randn(dims, 0), dims);
const image = randn([16 * 60 * 104], 3);

async function timeRun(steps: number, conditioned: boolean, precision: 'bf16' | 'fp32'): Promise<number> {
  const start = performance.now();
  await sample({
    schedule: createFlowMatchSchedule({ numInferenceSteps: steps }),
    plan: conditioned ? planImageToVideo({ frames: 21, image, multiplier: 0.2 }) : planTextToVideo(21),
    denoiser: instant,
    noise,
    guidanceScale: 5,
    modelInputPrecision: precision,
  });
  return performance.now() - start;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const rows: { case: string; perStepMs: number; setupMs: number }[] = [];
for (const [label, conditioned, precision] of [
  ['t2v, bf16 model input', false, 'bf16'],
  ['i2v m=0.2, bf16 model input', true, 'bf16'],
  ['t2v, fp32 model input', false, 'fp32'],
] as const) {
  await timeRun(3, conditioned, precision); // warm-up: JIT and allocation
  const short: number[] = [];
  const long: number[] = [];
  for (let r = 0; r < 5; r++) {
    short.push(await timeRun(1, conditioned, precision));
    long.push(await timeRun(31, conditioned, precision));
  }
  const perStep = (median(long) - median(short)) / 30;
  rows.push({
    case: label,
    perStepMs: Number(perStep.toFixed(2)),
    setupMs: Number((median(short) - perStep).toFixed(2)),
  });
}

process.stdout.write(
  `sampler core on [${dims.join(', ')}] (${size.toLocaleString('en')} values), guidance 5, node ${process.version}, one thread\n`,
);
for (const row of rows)
  process.stdout.write(
    `  ${row.case.padEnd(30)} ${row.perStepMs.toFixed(2).padStart(7)} ms/step   setup ${row.setupMs.toFixed(2)} ms\n`,
  );
const worst = Math.max(...rows.map((r) => r.perStepMs));
process.stdout.write(
  `worst per-step cost: ${worst.toFixed(2)} ms (goal ≤ 15 ms): ${worst <= 15 ? 'met' : 'NOT met'}\n`,
);
