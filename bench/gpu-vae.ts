/**
 * The Wan VAE through our runtime on onnxruntime-node (issue [10] item 2): for each exported graph pair, the decode
 * of 21 latent frames → 81 frames (480p, and 720p with --res), whole frame or in the reference's 3×3 tiles, the
 * encode of one condition image, the peak GPU memory of the process (nvidia-smi), and where the decode's time goes
 * (onnxruntime's profiler, summed per operator type). Each variant runs in its own process so its peak is its own.
 *
 *   node bench-gpu-vae.mjs --graphs frames=DIR,ncdhw=DIR [--res 480p,720p] [--tiles none,3x3] [--latents DIR]
 *                          [--dump DIR] [--json FILE]
 *
 * `--latents DIR` reads `latents-<res>.f32` (raw Wan latents [1,16,21,h,w], written by exporter/vae_variants.py) so
 * the decoded video can be compared with the PyTorch module's; `--dump DIR` writes our decoded video there as f32.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { randn, tensor } from '../sampler/index.ts';
import type { Manifest } from '../worker/runtime/manifest.ts';
import { loadOnnxRuntime } from '../worker/runtime/onnxruntime.ts';
import { createModelSession, type ExecutionProvider } from '../worker/runtime/sessions.ts';
import { createVae } from '../worker/runtime/vae.ts';
import { gpuMemoryProbe, median, round } from './gpu-probe.ts';

const { values } = parseArgs({
  options: {
    graphs: { type: 'string', default: '' },
    provider: { type: 'string', default: 'cuda' },
    res: { type: 'string', default: '480p' },
    tiles: { type: 'string', default: 'none' },
    latents: { type: 'string' },
    dump: { type: 'string' },
    repeats: { type: 'string', default: '3' },
    profile: { type: 'string', default: 'yes' },
    child: { type: 'string' },
    check: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

// `tiny` is for a smoke test of this script on a CPU with the shipped pusa-mini VAE (same latent contract)
const GRIDS: Record<string, [number, number]> = { '480p': [60, 104], '720p': [90, 160], tiny: [16, 16] };
const provider: ExecutionProvider =
  values.provider === 'cuda' ? { name: 'cuda', deviceId: 0 } : { name: 'cpu', threads: 2 };
// Wan's latent statistics (spec §B.2)
const MEAN = [
  -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632, -0.1922,
  -0.9497, 0.2503, -0.2921,
];
const STD = [
  2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253,
  2.8251, 1.916,
];
const latentShape = [1, 16, 'frames', 'lh', 'lw'];
const pixelShape = [1, 3, 'T', 'height', 'width'];
const io = (name: string, shape: (string | number)[]) => ({ name, dtype: 'float32' as const, shape });

type Row = Record<string, unknown>;

async function benchVariant(name: string, dir: string): Promise<Row[]> {
  const probe = gpuMemoryProbe();
  const rows: Row[] = [];
  const t0 = performance.now();
  const encoder = await createModelSession(
    'vaeEncoder',
    join(dir, 'vae_encoder.onnx'),
    { path: 'vae_encoder.onnx', inputs: [io('video', pixelShape)], outputs: [io('latent_mean', latentShape)] },
    provider,
  );
  const decoder = await createModelSession(
    'vaeDecoder',
    join(dir, 'vae_decoder.onnx'),
    { path: 'vae_decoder.onnx', inputs: [io('latents', latentShape)], outputs: [io('video', pixelShape)] },
    provider,
  );
  rows.push({ variant: name, case: 'sessions', ms: round(performance.now() - t0) });
  const latentStats: Manifest['latent'] = {
    channels: 16,
    temporalFactor: 4,
    spatialFactor: 8,
    patch: [1, 2, 2],
    mean: MEAN,
    std: STD,
  };

  // One image: the i2v condition frame (T = 1), 480×832.
  const vae = createVae(encoder, decoder, latentStats);
  const imageDims = values.res === 'tiny' ? [1, 3, 1, 128, 128] : [1, 3, 1, 480, 832];
  const image = tensor(
    randn(imageDims, 6).map((v) => Math.max(-1, Math.min(1, v / 3))),
    imageDims,
  );
  for (let i = 0; i < 3; i++) await vae.encode(image);
  const encodeMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const s = performance.now();
    await vae.encode(image);
    encodeMs.push(performance.now() - s);
  }
  rows.push({ variant: name, case: 'encode 1 image 480x832', ms: round(median(encodeMs)) });

  for (const res of values.res.split(',')) {
    const [lh, lw] = GRIDS[res] as [number, number];
    const dims = [1, 16, 21, lh, lw];
    const file = values.latents === undefined ? undefined : join(values.latents, `latents-${res}.f32`);
    // Raw latents from the file, normalised back so createVae's de-normalisation gives exactly them.
    const raw = file === undefined ? randn(dims, 5) : new Float32Array(readFileSync(file).buffer.slice(0));
    const plane = 21 * lh * lw;
    const normalised = raw.map(
      (v, i) => (v - (MEAN[Math.floor(i / plane)] as number)) / (STD[Math.floor(i / plane)] as number),
    );
    for (const tiles of values.tiles.split(',')) {
      const tiled =
        tiles === 'none'
          ? createVae(encoder, decoder, latentStats)
          : createVae(encoder, decoder, latentStats, { tile: [30, 52], stride: [15, 26] });
      probe.reset();
      const latents = tensor(normalised, dims);
      const first = performance.now();
      const video = await tiled.decode(latents); // warm-up: cuDNN picks its convolution algorithms on the first call
      const firstMs = performance.now() - first;
      if (values.dump !== undefined && tiles === 'none' && res === '480p')
        writeFileSync(
          join(values.dump, `${name}-${res}.f32`),
          Buffer.from(video.data.buffer, video.data.byteOffset, video.data.byteLength),
        );
      const ms: number[] = [];
      for (let r = 0; r < Number(values.repeats); r++) {
        const s = performance.now();
        await tiled.decode(latents);
        ms.push(performance.now() - s);
      }
      rows.push({
        variant: name,
        case: `decode 21 latents -> 81 frames ${8 * lh}x${8 * lw}, ${tiles === 'none' ? 'whole frame' : '3x3 tiles'}`,
        ms: round(median(ms)),
        runs_ms: ms.map((v) => round(v)),
        first_ms: round(firstMs),
        peak_gib: round(probe.peakGib()),
        host_rss_gib: round(process.memoryUsage().rss / 2 ** 30),
      });
    }
  }
  await encoder.release();
  await decoder.release();
  probe.stop();
  if (values.profile === 'yes') rows.push(...(await profileDecode(name, dir)));
  return rows;
}

/** One 480p whole-frame decode under onnxruntime's profiler, summed per operator type (the top ten). */
async function profileDecode(name: string, dir: string): Promise<Row[]> {
  const ort = await loadOnnxRuntime();
  const prefix = join(process.cwd(), `ort-profile-${name}`);
  const session = await ort.InferenceSession.create(join(dir, 'vae_decoder.onnx'), {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    executionProviders: provider.name === 'cuda' ? [{ name: 'cuda', deviceId: 0 }] : ['cpu'],
    ...(provider.name === 'cuda' ? { extra: { session: { use_device_allocator_for_initializers: '1' } } } : {}),
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const [lh, lw] = GRIDS[values.res.split(',')[0] as string] as [number, number];
  const dims = [1, 16, 21, lh, lw];
  const feed = { latents: new ort.Tensor('float32', randn(dims, 9), dims) };
  await session.run(feed);
  const s = performance.now();
  await session.run(feed);
  const wall = performance.now() - s;
  session.endProfiling();
  await session.release();
  const file = readdirSync(process.cwd()).find((f) => f.startsWith(`ort-profile-${name}`) && f.endsWith('.json'));
  if (file === undefined) return [{ variant: name, case: 'profile', error: 'no profile file' }];
  const events = JSON.parse(readFileSync(file, 'utf8')) as {
    cat: string;
    name: string;
    dur: number;
    args?: { op_name?: string };
  }[];
  rmSync(file);
  // Only the second run's kernels: the profile holds both runs; sum per op over the last `model_run` span.
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const last = runs.at(-1) as unknown as { ts: number; dur: number } | undefined;
  const inLast = (e: { ts?: number }) =>
    last === undefined || ((e.ts ?? 0) >= last.ts && (e.ts ?? 0) <= last.ts + last.dur);
  const perOp = new Map<string, { us: number; count: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inLast(e as { ts?: number })) continue;
    const op = e.args?.op_name ?? '?';
    const acc = perOp.get(op) ?? { us: 0, count: 0 };
    acc.us += e.dur;
    acc.count += 1;
    perOp.set(op, acc);
  }
  const total = [...perOp.values()].reduce((a, b) => a + b.us, 0);
  return [
    {
      variant: name,
      case: `profiled decode ${values.res.split(',')[0]} whole frame`,
      ms: round(wall),
      kernel_sum_ms: round(total / 1000),
    },
    ...[...perOp.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 10)
      .map(([op, v]) => ({ variant: name, case: `  op ${op} x${v.count}`, ms: round(v.us / 1000) })),
  ];
}

/**
 * `--check`: the decoder on the GPU at each optimisation level against the same graph on the CPU, on a small clip
 * (5 latent frames, 8×12), as the relative L2 of the whole clip, of frame 0 (the first-chunk graph) and of frames
 * 1.. (the Loop). The 2026-12-03 run found the GPU's 81-frame decode uncorrelated with the module (relative L2
 * 1.04) while onnxruntime's CPU gave 1e-3 on the same graph: this says where.
 */
async function checkOnGpu(name: string, dir: string): Promise<Row[]> {
  const ort = await loadOnnxRuntime();
  const dims = [1, 16, 5, 8, 12];
  const feed = () => ({
    latents: new ort.Tensor(
      'float32',
      randn(dims, 21).map((v) => 2 * v),
      dims,
    ),
  });
  const run = async (ep: 'cpu' | 'cuda', level: 'disabled' | 'basic' | 'all') => {
    const session = await ort.InferenceSession.create(join(dir, 'vae_decoder.onnx'), {
      graphOptimizationLevel: level,
      executionProviders: ep === 'cuda' ? [{ name: 'cuda', deviceId: 0 }] : ['cpu'],
    });
    const out = (await session.run(feed()))['video'] as { data: Float32Array; dims: readonly number[] };
    await session.release();
    return out;
  };
  const ref = await run('cpu', 'all');
  const frameSize = (ref.dims[3] as number) * (ref.dims[4] as number);
  const frames = ref.dims[2] as number;
  const pick = (data: Float32Array, first: boolean) =>
    Float32Array.from({ length: 3 * frameSize * (first ? 1 : frames - 1) }, (_, k) => {
      const per = first ? frameSize : frameSize * (frames - 1);
      const c = Math.floor(k / per);
      return data[c * frames * frameSize + (first ? 0 : frameSize) + (k % per)] as number;
    });
  const rel = (a: Float32Array, b: Float32Array) => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < a.length; i++) {
      num += ((a[i] as number) - (b[i] as number)) ** 2;
      den += (b[i] as number) ** 2;
    }
    return Math.sqrt(num / den);
  };
  const rows: Row[] = [];
  for (const level of ['disabled', 'basic', 'all'] as const) {
    const got = await run('cuda', level);
    rows.push({
      variant: name,
      case: `check cuda/${level} vs cpu: clip, frame 0, frames 1..`,
      ms: [
        rel(got.data, ref.data),
        rel(pick(got.data, true), pick(ref.data, true)),
        rel(pick(got.data, false), pick(ref.data, false)),
      ]
        .map((v) => v.toExponential(2))
        .join(' '),
    });
  }
  return rows;
}

if (values.child !== undefined) {
  const [name, dir] = values.child.split('=') as [string, string];
  const rows = values.check ? await checkOnGpu(name, dir) : await benchVariant(name, dir);
  process.stdout.write(`\nRESULT ${JSON.stringify(rows)}\n`);
  process.exit(0);
}

const all: Row[] = [];
for (const pair of values.graphs.split(',').filter(Boolean)) {
  const args = [...process.execArgv, process.argv[1] as string, ...process.argv.slice(2), '--child', pair];
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) {
    all.push({
      variant: pair.split('=')[0],
      case: 'failed',
      error: `exit ${child.status}: ${child.stdout.slice(-2000)}`,
    });
    continue;
  }
  all.push(...(JSON.parse(line.slice(7)) as Row[]));
}
for (const r of all)
  console.log(
    [
      String(r['variant']).padEnd(10),
      String(r['case']).padEnd(58),
      String(r['ms'] ?? r['error'] ?? '').padStart(10),
      r['peak_gib'] === undefined ? '' : `peak ${r['peak_gib']} GiB`,
    ].join(' '),
  );
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(all, null, 1));
