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
import type { Manifest } from '../pack/manifest.ts';
import { randn, tensor } from '../sampler/index.ts';
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
    probe: { type: 'boolean', default: false },
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
  return summariseProfile(name, `profiled decode ${values.res.split(',')[0]} whole frame`, wall, 'ort-profile-', 10);
}

/**
 * The last `model_run` of an onnxruntime profile file `<prefix><name>*.json` in the working directory, summed per
 * operator type (the top `top`) and per node (the top eight), then the file removed.
 */
function summariseProfile(name: string, label: string, wall: number, prefix: string, top: number): Row[] {
  const file = readdirSync(process.cwd()).find((f) => f.startsWith(`${prefix}${name}`) && f.endsWith('.json'));
  if (file === undefined) return [{ variant: name, case: label, error: 'no profile file' }];
  const events = JSON.parse(readFileSync(file, 'utf8')) as {
    cat: string;
    name: string;
    dur: number;
    ts?: number;
    args?: { op_name?: string };
  }[];
  rmSync(file);
  // Only the second run's kernels: the profile holds both runs; sum over the last `model_run` span.
  const last = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').at(-1);
  const inLast = (e: { ts?: number }) =>
    last === undefined || ((e.ts ?? 0) >= (last.ts ?? 0) && (e.ts ?? 0) <= (last.ts ?? 0) + last.dur);
  const perOp = new Map<string, { us: number; count: number }>();
  const perNode = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inLast(e)) continue;
    const op = e.args?.op_name ?? '?';
    const acc = perOp.get(op) ?? { us: 0, count: 0 };
    acc.us += e.dur;
    acc.count += 1;
    perOp.set(op, acc);
    perNode.set(e.name, (perNode.get(e.name) ?? 0) + e.dur);
  }
  const total = [...perOp.values()].reduce((a, b) => a + b.us, 0);
  return [
    { variant: name, case: label, ms: round(wall), kernel_sum_ms: round(total / 1000) },
    ...[...perOp.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([op, v]) => ({ variant: name, case: `  op ${op} x${v.count}`, ms: round(v.us / 1000) })),
    ...[...perNode.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([node, us]) => ({ variant: name, case: `  node ${node.slice(0, 50)}`, ms: round(us / 1000) })),
  ];
}

/** Relative L2 of `got` against `want` over all of a [1,3,T,H,W] clip, its frame 0 and its frames 1.. */
function clipErrors(got: Float32Array, want: Float32Array, dims: readonly number[]): string {
  const [, channels = 3, frames = 1, height = 1, width = 1] = dims;
  const size = height * width;
  const acc = { all: [0, 0], first: [0, 0], rest: [0, 0] };
  for (let c = 0; c < channels; c++)
    for (let t = 0; t < frames; t++) {
      const part = t === 0 ? acc.first : acc.rest;
      for (let i = (c * frames + t) * size, end = i + size; i < end; i++) {
        const d = (got[i] as number) - (want[i] as number);
        const w = (want[i] as number) ** 2;
        part[0] = (part[0] as number) + d * d;
        part[1] = (part[1] as number) + w;
      }
    }
  acc.all = [(acc.first[0] as number) + (acc.rest[0] as number), (acc.first[1] as number) + (acc.rest[1] as number)];
  const rel = ([num, den]: number[]) =>
    den === 0 ? '-' : Math.sqrt((num as number) / (den as number)).toExponential(2);
  return `${rel(acc.all)} ${rel(acc.first)} ${rel(acc.rest)}`;
}

/**
 * `--check`: the decoder graph against the fp32 PyTorch module on the cases `vae_variants.py refs` wrote
 * (check-FxHxW.{lat,ref}.f32 in --latents): on the GPU at each optimisation level, and on the CPU for the small
 * case, as the relative L2 of the whole clip, of frame 0 (the first-chunk graph) and of frames 1.. (the Loop). The
 * 2026-12-03 run found the GPU's 81-frame decode uncorrelated with the module (relative L2 1.04) while onnxruntime's
 * CPU gave 1e-3 on a small clip: this says where.
 */
async function checkAgainstModule(name: string, dir: string): Promise<Row[]> {
  const ort = await loadOnnxRuntime();
  const from = values.latents ?? '.';
  const cases = readdirSync(from)
    .filter((f) => /^check-\d+x\d+x\d+\.lat\.f32$/.test(f))
    .map((f) => f.slice(6, -8).split('x').map(Number) as [number, number, number])
    .sort((a, b) => a[0] * a[1] * a[2] - b[0] * b[1] * b[2]);
  const read = (f: string) => {
    const b = readFileSync(join(from, f));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const rows: Row[] = [];
  const runs: ['cpu' | 'cuda', 'disabled' | 'basic' | 'all'][] = [
    ['cuda', 'all'],
    ['cuda', 'basic'],
    ['cuda', 'disabled'],
    ['cpu', 'all'],
  ];
  for (const [ep, level] of runs) {
    const session = await ort.InferenceSession.create(join(dir, 'vae_decoder.onnx'), {
      graphOptimizationLevel: level,
      executionProviders: ep === 'cuda' ? [{ name: 'cuda', deviceId: 0 }] : ['cpu'],
    });
    for (const [f, lh, lw] of cases) {
      if (ep === 'cpu' && lh * lw > 200) continue; // full-size weights at 480p are hours on a CPU
      if (level !== 'all' && f * lh * lw > 2 * 60 * 104) continue;
      const stem = `check-${f}x${lh}x${lw}`;
      const dims = [1, 16, f, lh, lw];
      const out = (await session.run({ latents: new ort.Tensor('float32', read(`${stem}.lat.f32`), dims) }))[
        'video'
      ] as { data: Float32Array; dims: readonly number[] };
      rows.push({
        variant: name,
        case: `check ${ep}/${level} ${f}x${lh}x${lw}: rel L2 clip, frame 0, frames 1..`,
        ms: clipErrors(out.data, read(`${stem}.ref.f32`), out.dims),
      });
      console.error(JSON.stringify(rows.at(-1)));
    }
    await session.release();
  }
  return rows;
}

/**
 * `--probe`: the Loop body's time per operator. onnxruntime's profiler does not itemise a Loop's body, so the
 * exporter also writes the two chunk graphs alone (probe_first.onnx, probe_step.onnx); this runs the first chunk
 * for the caches, then one step at the --res grid under the profiler (the second of two runs), summed per operator.
 */
async function probeStep(name: string, dir: string): Promise<Row[]> {
  const ort = await loadOnnxRuntime();
  const [lh, lw] = GRIDS[values.res.split(',')[0] as string] as [number, number];
  const options = (profile: boolean) => ({
    graphOptimizationLevel: 'all' as const,
    executionProviders: [{ name: 'cuda' as const, deviceId: 0 }],
    ...(profile ? { enableProfiling: true, profileFilePrefix: join(process.cwd(), `ort-probe-${name}`) } : {}),
  });
  const first = await ort.InferenceSession.create(join(dir, 'probe_first.onnx'), options(false));
  const dims = [1, 16, 1, lh, lw];
  const z = () => new ort.Tensor('float32', randn(dims, 3), dims);
  const out = await first.run({ latents: z() });
  await first.release();
  // under Nsight Compute (PROBE_PLAIN=1) onnxruntime's own profiler stays off and the step runs three times, so
  // the last two runs' kernel sequences repeat and exporter/ncu_summary.py can find the last one
  const plain = process.env['PROBE_PLAIN'] === '1';
  const step = await ort.InferenceSession.create(join(dir, 'probe_step.onnx'), options(!plain));
  const feed: Record<string, unknown> = { latents: z() };
  for (const input of step.inputNames) if (input !== 'latents') feed[input] = out[input.replace('_in_', '_out_')];
  for (let r = plain ? 2 : 1; r > 0; r--) await step.run(feed as never);
  const s = performance.now();
  await step.run(feed as never);
  const wall = performance.now() - s;
  if (plain) {
    await step.release();
    return [{ variant: name, case: 'probe: one Loop step under ncu', ms: round(wall) }];
  }
  step.endProfiling();
  await step.release();
  return summariseProfile(
    name,
    `probe: one Loop step ${8 * lh}x${8 * lw} (4 frames), wall incl. copies`,
    wall,
    'ort-probe-',
    25,
  );
}

if (values.child !== undefined) {
  const [name, dir] = values.child.split('=') as [string, string];
  const rows = values.check
    ? await checkAgainstModule(name, dir)
    : values.probe
      ? await probeStep(name, dir)
      : await benchVariant(name, dir);
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
