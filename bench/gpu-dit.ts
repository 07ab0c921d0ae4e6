/**
 * The onnxruntime-node half of the GPU benchmark (issue 8): Wan2.1-14B DiT graphs of full width and reduced depth
 * (`exporter/bench_gpu.py export`) run through **our** runtime — `createModelSession` + the sampler's guided
 * `Denoiser` port, batch 2 = positive and negative prompt in one call — and the sampler core's own share of a step.
 *
 *   node bench-gpu-dit.mjs --dir DIR [--provider cuda] [--res 480p,720p] [--variants fp16,int8,int4] [--json FILE]
 *
 * Per block = slope over depth (dit-L1, dit-L3), one 40-block step = intercept + 40·slope. Peak GPU memory is read
 * from nvidia-smi while each graph runs (the whole process, so it includes onnxruntime's arena). Prints figures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import type { OnnxFileSpec } from '../pack/manifest.ts';
import { createFlowMatchSchedule, type Denoiser, planImageToVideo, randn, sample, tensor } from '../sampler/index.ts';
import { createOnnxDenoiser } from '../worker/runtime/onnx-denoiser.ts';
import { createModelSession, type ExecutionProvider } from '../worker/runtime/sessions.ts';
import { createVae } from '../worker/runtime/vae.ts';
import { gpuMemoryProbe, median, round } from './gpu-probe.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.gpu-out/dit' },
    provider: { type: 'string', default: 'cuda' },
    res: { type: 'string', default: '480p,720p' },
    variants: { type: 'string', default: 'fp16,int8,int4' },
    layers: { type: 'string', default: '1,3' },
    repeats: { type: 'string', default: '5' },
    vae: { type: 'string' },
    child: { type: 'string' },
    sequential: { type: 'boolean', default: false },
    'keep-dumps': { type: 'string' },
    json: { type: 'string' },
  },
});

const GRIDS: Record<string, [number, number, number]> = { '480p': [21, 60, 104], '720p': [21, 90, 160] };
const TEXT_LENGTH = 512;
const TEXT_DIM = 4096;
const provider: ExecutionProvider =
  values.provider === 'cuda' ? { name: 'cuda', deviceId: 0 } : { name: 'cpu', threads: 16 };
const repeats = Number(values.repeats);
const spec: OnnxFileSpec = {
  path: 'dit.onnx',
  inputs: [
    { name: 'x', dtype: 'float32', shape: ['batch', 16, 'frames', 'height', 'width'] },
    { name: 'timestep', dtype: 'float32', shape: ['batch', 'frames'] },
    { name: 'context', dtype: 'float32', shape: ['batch', TEXT_LENGTH, TEXT_DIM] },
  ],
  outputs: [{ name: 'velocity', dtype: 'float32', shape: ['batch', 16, 'frames', 'height', 'width'] }],
};

function contextFor(seed: number): Float32Array {
  const ctx = randn([TEXT_LENGTH * TEXT_DIM], seed);
  ctx.fill(0, 40 * TEXT_DIM); // rows past the prompt are zero, as the umT5 path gives
  return ctx;
}

function relativeError(a: Float32Array, b: Float32Array): { rel: number; maxAbs: number } {
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    num += d * d;
    den += (b[i] as number) ** 2;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { rel: Math.sqrt(num / den), maxAbs };
}

const probe = gpuMemoryProbe();
const layers = values.layers.split(',').map(Number);

interface GraphJob {
  readonly file: string;
  readonly res: string;
  readonly dump: string;
  readonly sampler: boolean;
}

if (values.child !== undefined) {
  // One graph (or the VAE) per process, so the peak memory read from nvidia-smi is that graph's alone: onnxruntime
  // keeps its CUDA arena until the process ends.
  const job = JSON.parse(values.child) as GraphJob | { vae: string };
  const result = 'vae' in job ? await benchVae(job.vae) : await benchGraph(job);
  console.log(`RESULT ${JSON.stringify(result)}`);
  probe.stop();
  process.exit(0);
}

function inChild(job: GraphJob | { vae: string }): Record<string, unknown> | Record<string, unknown>[] | undefined {
  const args = [process.argv[1] as string, '--child', JSON.stringify(job), '--provider', values.provider as string];
  if (values.sequential) args.push('--sequential');
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (run.status !== 0 || line === undefined) {
    console.error(`child failed (${run.status}): ${JSON.stringify(job)}\n${run.stdout.slice(-2000)}`);
    return undefined;
  }
  return JSON.parse(line.slice('RESULT '.length));
}

const rows: Record<string, unknown>[] = [];
const dumpDir = values['keep-dumps'] ?? mkdtempSync(join(tmpdir(), 'gpu-dit-'));
mkdirSync(dumpDir, { recursive: true });
for (const res of values.res.split(',')) {
  for (const variant of values.variants.split(',')) {
    const perDepth = new Map<number, number>();
    for (const n of layers) {
      const file = join(values.dir, variant === 'fp16' ? `dit-L${n}.onnx` : `dit-L${n}-${variant}.onnx`);
      if (!existsSync(file)) {
        console.error(`skip ${file}: not found`);
        continue;
      }
      const dump = join(dumpDir, `${res}-${variant}-L${n}.f32`);
      const result = inChild({ file, res, dump, sampler: variant === 'fp16' && n === layers[0] }) as
        | Record<string, unknown>
        | undefined;
      if (result === undefined) continue;
      perDepth.set(n, result['guided_step_ms'] as number);
      const row: Record<string, unknown> = {
        impl: `onnxruntime-node-${provider.name}-${variant}${values.sequential ? '-sequential' : ''}`,
        res,
        layers: n,
        ...result,
      };
      // a quantised graph against the fp16 graph of the same depth, same inputs
      const reference = join(dumpDir, `${res}-fp16-L${n}.f32`);
      if (variant !== 'fp16' && existsSync(reference)) {
        const err = relativeError(readF32(dump), readF32(reference));
        row['rel_l2_vs_fp16'] = Number(err.rel.toPrecision(3));
        row['max_abs_vs_fp16'] = Number(err.maxAbs.toPrecision(3));
      }
      console.log(JSON.stringify(row));
      rows.push(row);
    }
    const ns = [...perDepth.keys()].sort((a, b) => a - b);
    if (ns.length >= 2) {
      const lo = ns[0] as number;
      const hi = ns[ns.length - 1] as number;
      const slope = ((perDepth.get(hi) as number) - (perDepth.get(lo) as number)) / (hi - lo);
      const intercept = (perDepth.get(lo) as number) - slope * lo;
      const row = {
        impl: `onnxruntime-node-${provider.name}-${variant}${values.sequential ? '-sequential' : ''}`,
        res,
        per_block_guided_ms: round(slope),
        fixed_ms: round(intercept),
        step_40_blocks_s: round((intercept + 40 * slope) / 1000, 3),
      };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
}
if (values['keep-dumps'] === undefined) rmSync(dumpDir, { recursive: true, force: true });
if (values.vae !== undefined) {
  const vaeRows = inChild({ vae: values.vae });
  if (Array.isArray(vaeRows))
    for (const row of vaeRows) {
      console.log(JSON.stringify(row));
      rows.push(row);
    }
}
probe.stop();

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** One DiT graph through our runtime: guided call (batch 2) timings, peak memory, its output for the error check. */
async function benchGraph(job: GraphJob): Promise<Record<string, unknown>> {
  const [frames, h, w] = GRIDS[job.res] as [number, number, number];
  const dims = [1, 16, frames, h, w];
  const latents = tensor(randn(dims, 7), dims);
  const timesteps = new Float32Array(frames).fill(936);
  timesteps[0] = 187; // an i2v condition frame at m = 0.2
  probe.reset();
  const loadStart = performance.now();
  const session = await createModelSession('dit', job.file, spec, provider);
  const loadMs = performance.now() - loadStart;
  const denoiser = createOnnxDenoiser({
    dit: session,
    positive: contextFor(11),
    negative: contextFor(12),
    textLength: TEXT_LENGTH,
    textDim: TEXT_DIM,
    batchGuidance: !values.sequential, // --sequential: positive and negative passes one after the other (less memory)
  });
  const input = { sample: latents, frameTimesteps: timesteps, withNegative: true, stepIndex: 0, numInferenceSteps: 1 };
  const first = await denoiser.predict(input);
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await denoiser.predict(input);
    samples.push(performance.now() - t0);
  }
  const out = new Float32Array(first.positive.length + (first.negative?.length ?? 0));
  out.set(first.positive);
  if (first.negative) out.set(first.negative, first.positive.length);
  writeFileSync(job.dump, out);
  const result: Record<string, unknown> = {
    guided_step_ms: round(median(samples)),
    load_s: round(loadMs / 1000),
    peak_gib: round(probe.peakGib()),
  };
  if (job.sampler) result['sampler_core_ms_per_step'] = round(await samplerShare(denoiser, dims));
  await session.release();
  return result;
}

/**
 * The Wan VAE through our runtime (`createVae` with the reference's spatial tiling, spec §A.6): decode of 21 latent
 * frames = 81 frames at 480p (3×3 tiles of 30×52 latents), and the encode of one 480p condition image.
 */
async function benchVae(dir: string): Promise<Record<string, unknown>[]> {
  const video = (name: string, shape: (string | number)[]) => ({ name, dtype: 'float32' as const, shape });
  const latentShape = [1, 16, 'frames', 'lh', 'lw'];
  const pixelShape = [1, 3, 'T', 'height', 'width'];
  probe.reset();
  const encoder = await createModelSession(
    'vaeEncoder',
    join(dir, 'vae_encoder.onnx'),
    {
      path: 'vae_encoder.onnx',
      inputs: [video('video', pixelShape)],
      outputs: [video('latent_mean', latentShape)],
    },
    provider,
  );
  const decoder = await createModelSession(
    'vaeDecoder',
    join(dir, 'vae_decoder.onnx'),
    {
      path: 'vae_decoder.onnx',
      inputs: [video('latents', latentShape)],
      outputs: [video('video', pixelShape)],
    },
    provider,
  );
  // Wan's latent statistics (spec §B.2)
  const mean = [
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632, -0.1922,
    -0.9497, 0.2503, -0.2921,
  ];
  const std = [
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253,
    2.8251, 1.916,
  ];
  const vae = createVae(
    encoder,
    decoder,
    { channels: 16, temporalFactor: 4, spatialFactor: 8, patch: [1, 2, 2], mean, std },
    { tile: [30, 52], stride: [15, 26] },
  );
  const out: Record<string, unknown>[] = [];
  const dims = [1, 16, 21, 60, 104];
  const latents = tensor(randn(dims, 5), dims);
  await vae.decode(latents); // warm-up: cuDNN picks its convolution algorithms on the first call
  const decodeMs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await vae.decode(latents);
    decodeMs.push(performance.now() - t0);
  }
  out.push({
    impl: `onnxruntime-node-${provider.name}-vae-fp16`,
    case: 'decode 21 latents -> 81 frames 480x832, 3x3 tiles',
    ms: round(median(decodeMs)),
    peak_gib: round(probe.peakGib()),
  });
  const imageDims = [1, 3, 1, 480, 832];
  const image = tensor(
    randn(imageDims, 6).map((v) => Math.max(-1, Math.min(1, v / 3))),
    imageDims,
  );
  await vae.encode(image);
  const t0 = performance.now();
  await vae.encode(image);
  out.push({
    impl: `onnxruntime-node-${provider.name}-vae-fp16`,
    case: 'encode one 480x832 image, 3x3 tiles',
    ms: round(performance.now() - t0),
  });
  await encoder.release();
  await decoder.release();
  return out;
}

/**
 * The sampler core's time per step around a real model: i2v runs through `sample()` with this denoiser, the time
 * spent inside the denoiser subtracted, and (5-step run − 1-step run) / 4 so the one-off setup (condition noising,
 * plan checks) is not counted per step. Noise and image are made before the clock starts.
 */
async function samplerShare(model: Denoiser, dims: number[]): Promise<number> {
  const noise = tensor(randn(dims, 0), dims);
  const image = randn([16 * (dims[3] as number) * (dims[4] as number)], 3);
  const run = async (steps: number) => {
    let inside = 0;
    const timed: Denoiser = {
      predict: async (input, signal) => {
        const t0 = performance.now();
        const out = await model.predict(input, signal);
        inside += performance.now() - t0;
        return out;
      },
    };
    const t0 = performance.now();
    await sample({
      schedule: createFlowMatchSchedule({ numInferenceSteps: steps }),
      plan: planImageToVideo({ frames: dims[2] as number, image, multiplier: 0.2 }),
      denoiser: timed,
      noise,
      guidanceScale: 5,
      modelInputPrecision: 'bf16',
    });
    return performance.now() - t0 - inside;
  };
  await run(1); // warm-up
  return ((await run(5)) - (await run(1))) / 4;
}

if (values.json) writeFileSync(values.json, JSON.stringify({ provider: provider.name, rows }, null, 1));
process.exit(0);
