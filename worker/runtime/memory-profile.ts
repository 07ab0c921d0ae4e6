import { statSync } from 'node:fs';
import type { ModelPack } from '../../pack/manifest.ts';
import { effectiveVaeTiling } from './vae-tiles.ts';

/**
 * Where a worker keeps what, by the GPU it has (issue [10] item 3). Each profile is a preset of three choices; each
 * can also be set alone (worker/config.ts):
 * - `guidance`: a guided step's two DiT passes as one batch of 2, or one after the other (half the activations);
 * - `dit`: the DiT resident, or opened for each job's sampling and released before its decode (`staged`): then only
 *   one stage's graph is on the GPU at a time (text encoding, sampling, decoding) and the peak is the largest stage,
 *   not their sum — onnxruntime keeps a session's arena at its peak, so a resident DiT's activations stay under the
 *   VAE's decode (the 24gb profile's 22.4 GiB of 2026-12-04 was 17.1 GiB of DiT plus 5.3 GiB of a VAE tile);
 * - `textEncoder`: umT5 resident on the GPU, on the GPU only while it encodes (`gpu-staged`), or on the CPU;
 * - `vae`: the VAE sessions resident, or opened for each encode/decode and released after it (`staged`);
 * - `vaeTiles`: the pack's own VAE tiling (whole frame for the real model's chunked graph), or the reference's
 *   spatial tiles (`reference`, spec §A.6): each call then decodes a quarter of the frame's area, which bounds the
 *   decode's peak (onnxruntime's arena grows to the largest call) at the cost of the overlaps' extra work.
 */
export interface Placement {
  readonly guidance: 'batched' | 'sequential';
  readonly dit: 'resident' | 'staged';
  readonly textEncoder: 'gpu' | 'gpu-staged' | 'cpu';
  readonly vae: 'resident' | 'staged';
  readonly vaeTiles: 'pack' | 'reference';
}

export const MEMORY_PROFILES = {
  // everything resident, whole-frame decodes: a 30-step guided 480p job peaked at 99.9 GiB (2026-12-04, H200)
  '141gb': { guidance: 'batched', dit: 'resident', textEncoder: 'gpu', vae: 'resident', vaeTiles: 'pack' },
  // the same in the reference's tiles: the whole-frame decode's 31 GiB on top of the DiT does not fit 80 GB
  '80gb': { guidance: 'batched', dit: 'resident', textEncoder: 'gpu', vae: 'resident', vaeTiles: 'reference' },
  // One stage on the GPU at a time. With a resident DiT its arena stays at its peak under the next job's text stage
  // (fp16 480p: 37.4 GiB + umT5's 10.6 — a 48 GB card's whole memory), and umT5 on the CPU took 110 s per prompt
  // (fp16 on onnxruntime's CPU provider, 2026-12-04), so the DiT is opened for each job's sampling instead (about
  // 10 s of a 200 s 30-step job). 48gb and 24gb place the same; a 24 GB card needs the int4 DiT as well.
  '48gb': { guidance: 'sequential', dit: 'staged', textEncoder: 'gpu-staged', vae: 'staged', vaeTiles: 'reference' },
  '24gb': { guidance: 'sequential', dit: 'staged', textEncoder: 'gpu-staged', vae: 'staged', vaeTiles: 'reference' },
} as const satisfies Record<string, Placement>;
export type MemoryProfileName = keyof typeof MEMORY_PROFILES;

const GIB = 2 ** 30;

/**
 * Measured coefficients (onnxruntime-node CUDA, fp16 activations; docs/real-model.md, docs/vae-notes.md and
 * docs/benchmarks.md):
 * - DiT activations per token and batch entry: 0.29 MiB at 480p (32,760 tokens; the int4 DiT sampling at 17.1 GiB
 *   over its 7.9 GiB of weights and context, 2026-12-04, H200) and 0.36 MiB at 720p (75,600 tokens, 2026-11-24,
 *   H100); linear between them (attention grows faster than the token count), the nearer one outside;
 * - VAE decode peak per output pixel of one decoder call: 1.04 KiB whole frame (31.3 GiB for 81×480×832, the chunked
 *   graph, 2026-12-04), 0.69 KiB in the reference's tiles (5.3 GiB for an 81×240×416 tile call on top of the DiT,
 *   2026-12-04) — in tiles a call is one tile with all frames;
 * - the CUDA context and onnxruntime's own buffers: 1.5 GiB.
 */
const ACTIVATION_POINTS: readonly [number, number][] = [
  [32_760, 0.29 * 2 ** 20],
  [75_600, 0.36 * 2 ** 20],
];
function activationBytesPerToken(tokens: number): number {
  const [[t0, b0], [t1, b1]] = ACTIVATION_POINTS as [[number, number], [number, number]];
  const at = Math.min(1, Math.max(0, (tokens - t0) / (t1 - t0)));
  return b0 + at * (b1 - b0);
}
const VAE_WHOLE_BYTES_PER_PIXEL = (31.3 * GIB) / (81 * 480 * 832);
const VAE_TILED_BYTES_PER_PIXEL = (5.3 * GIB) / (81 * 240 * 416);
const CONTEXT_BYTES = 1.5 * GIB;

export interface MemoryEstimate {
  /** Peak bytes on the GPU over a job at the pack's largest size and longest clip. */
  readonly peakBytes: number;
  /** What makes it up, in GiB, for the log and the refusal. */
  readonly parts: Readonly<Record<string, number>>;
  readonly size: readonly [number, number];
  readonly frames: number;
}

/** Bytes of a pack file with its external-data file beside it (`<file>.data`), if any. */
function weightBytes(path: string): number {
  const own = statSync(path).size;
  try {
    return own + statSync(`${path}.data`).size;
  } catch {
    return own;
  }
}

/**
 * The GPU peak of one job at the pack's largest frame size and longest clip under `placement`: what stays resident
 * (the CUDA context, resident graphs with their arenas at their peaks — a resident DiT with its activations) plus the
 * largest staged stage on top (the text encoder's weights, the staged DiT with its activations, or the VAE's decode).
 */
export function estimateGpuMemory(pack: ModelPack, placement: Placement): MemoryEstimate {
  const { video, latent } = pack.manifest;
  const [width, height] = [...video.sizes].sort((a, b) => b[0] * b[1] - a[0] * a[1])[0] as [number, number];
  const frames = Math.max(...video.frameCounts);
  const latentFrames = 1 + Math.floor((frames - 1) / latent.temporalFactor);
  const [, ph = 1, pw = 1] = latent.patch;
  const tokens =
    latentFrames * Math.ceil(height / latent.spatialFactor / ph) * Math.ceil(width / latent.spatialFactor / pw);
  const batch = placement.guidance === 'batched' ? 2 : 1;
  const dit = weightBytes(pack.paths.dit);
  const activations = activationBytesPerToken(tokens) * tokens * batch;
  const parts: Record<string, number> = { 'CUDA context': CONTEXT_BYTES };
  if (placement.dit === 'resident') {
    parts['DiT weights'] = dit;
    parts['DiT activations'] = activations;
  }
  const text = weightBytes(pack.paths.textEncoder);
  const tiling = effectiveVaeTiling(pack.manifest, placement.vaeTiles);
  const factor = latent.spatialFactor;
  const [callHeight, callWidth] =
    tiling === undefined
      ? [height, width]
      : [Math.min(height, tiling.tile[0] * factor), Math.min(width, tiling.tile[1] * factor)];
  const perPixel = tiling === undefined ? VAE_WHOLE_BYTES_PER_PIXEL : VAE_TILED_BYTES_PER_PIXEL;
  const vae = weightBytes(pack.paths.vaeEncoder) + perPixel * frames * callWidth * callHeight;
  if (placement.textEncoder === 'gpu') parts['text encoder'] = text;
  if (placement.vae === 'resident') parts['VAE'] = vae;
  const stages: [string, number][] = [
    ['text encoder (staged)', placement.textEncoder === 'gpu-staged' ? text : 0],
    ['DiT weights + activations (staged)', placement.dit === 'staged' ? dit + activations : 0],
    ['VAE (staged)', placement.vae === 'staged' ? vae : 0],
  ];
  const [stageName, stageBytes] = stages.reduce((a, b) => (b[1] > a[1] ? b : a));
  // a staged stage runs while every resident arena is at its peak (onnxruntime keeps it), so it adds to them
  if (stageBytes > 0) parts[`largest stage: ${stageName}`] = stageBytes;
  const peakBytes = Object.values(parts).reduce((a, b) => a + b, 0);
  return {
    peakBytes,
    parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round((v / GIB) * 10) / 10])),
    size: [width, height],
    frames,
  };
}

/**
 * `undefined` when the estimate fits `gpuBytes`, else the refusal: one line saying what does not fit and the fix —
 * the next smaller profile, or a smaller DiT when the profile is already the smallest.
 */
export function refuseIfTooBig(
  pack: ModelPack,
  profile: MemoryProfileName | 'custom',
  placement: Placement,
  gpuBytes: number,
): string | undefined {
  const estimate = estimateGpuMemory(pack, placement);
  if (estimate.peakBytes <= gpuBytes) return undefined;
  const gib = (v: number) => `${(v / GIB).toFixed(1)} GiB`;
  const fits = (Object.keys(MEMORY_PROFILES) as MemoryProfileName[]).find(
    (name) => estimateGpuMemory(pack, MEMORY_PROFILES[name]).peakBytes <= gpuBytes,
  );
  const fix =
    fits !== undefined && fits !== profile
      ? `set MEMORY_PROFILE=${fits}`
      : `build the pack with a smaller DiT (python3 exporter/build_pack.py … --quant int4) or offer fewer frames/sizes in its manifest`;
  const [w, h] = estimate.size;
  return `MEMORY_PROFILE=${profile} needs about ${gib(estimate.peakBytes)} of GPU memory for ${w}×${h}, ${estimate.frames} frames (${Object.entries(
    estimate.parts,
  )
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')} GiB) but the GPU has ${gib(gpuBytes)}: ${fix}`;
}
