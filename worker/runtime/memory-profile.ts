import { statSync } from 'node:fs';
import type { ModelPack } from '../../pack/manifest.ts';
import { effectiveVaeTiling } from './vae-tiles.ts';

/**
 * Where a worker keeps what, by the GPU it has (issue [10] item 3). Each profile is a preset of three choices; each
 * can also be set alone (worker/config.ts):
 * - `guidance`: a guided step's two DiT passes as one batch of 2, or one after the other (half the activations);
 * - `textEncoder`: umT5 resident on the GPU, on the GPU only while it encodes (`gpu-staged`), or on the CPU;
 * - `vae`: the VAE sessions resident, or opened for each encode/decode and released after it (`staged`);
 * - `vaeTiles`: the pack's own VAE tiling (whole frame for the real model's chunked graph), or the reference's
 *   spatial tiles (`reference`, spec §A.6): each call then decodes a quarter of the frame's area, which bounds the
 *   decode's peak (onnxruntime's arena grows to the largest call) at the cost of the overlaps' extra work.
 */
export interface Placement {
  readonly guidance: 'batched' | 'sequential';
  readonly textEncoder: 'gpu' | 'gpu-staged' | 'cpu';
  readonly vae: 'resident' | 'staged';
  readonly vaeTiles: 'pack' | 'reference';
}

export const MEMORY_PROFILES = {
  '80gb': { guidance: 'batched', textEncoder: 'gpu', vae: 'resident', vaeTiles: 'pack' },
  '48gb': { guidance: 'sequential', textEncoder: 'gpu-staged', vae: 'staged', vaeTiles: 'reference' },
  '24gb': { guidance: 'sequential', textEncoder: 'cpu', vae: 'staged', vaeTiles: 'reference' },
} as const satisfies Record<string, Placement>;
export type MemoryProfileName = keyof typeof MEMORY_PROFILES;

const GIB = 2 ** 30;

/**
 * Measured coefficients (onnxruntime-node CUDA, fp16 activations; docs/real-model.md and docs/vae-notes.md):
 * - DiT activations per token and batch entry: 0.29 MiB at 480p, 0.36 MiB at 720p (the peak minus the weights of
 *   the batched and sequential runs of 2026-11-24, H100) — the larger one is used;
 * - VAE decode peak per output pixel of one decoder call: 31.3 GiB for 81×480×832 (the chunked graph, whole frame,
 *   2026-12-04, H200) ≈ 1.04 KiB; in tiles a call is one tile (all frames), so the peak scales with a tile's area;
 * - the CUDA context and onnxruntime's own buffers: 1.5 GiB.
 */
const DIT_ACTIVATION_BYTES_PER_TOKEN = 0.36 * 2 ** 20;
const VAE_DECODE_BYTES_PER_PIXEL = (31.3 * GIB) / (81 * 480 * 832);
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
 * The GPU peak of one job at the pack's largest frame size and longest clip under `placement`: the resident
 * weights, the DiT's activations, and the largest stage on top (the text encoder's weights or the VAE's decode) —
 * resident sessions add up, staged ones only at their stage.
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
  const parts: Record<string, number> = {
    'DiT weights': weightBytes(pack.paths.dit),
    'DiT activations': DIT_ACTIVATION_BYTES_PER_TOKEN * tokens * batch,
    'CUDA context': CONTEXT_BYTES,
  };
  const text = weightBytes(pack.paths.textEncoder);
  const tiling = effectiveVaeTiling(pack.manifest, placement.vaeTiles);
  const factor = latent.spatialFactor;
  const [callHeight, callWidth] =
    tiling === undefined
      ? [height, width]
      : [Math.min(height, tiling.tile[0] * factor), Math.min(width, tiling.tile[1] * factor)];
  const vae = weightBytes(pack.paths.vaeEncoder) + VAE_DECODE_BYTES_PER_PIXEL * frames * callWidth * callHeight;
  if (placement.textEncoder === 'gpu') parts['text encoder'] = text;
  if (placement.vae === 'resident') parts['VAE'] = vae;
  const staged = [placement.textEncoder === 'gpu-staged' ? text : 0, placement.vae === 'staged' ? vae : 0];
  // a staged stage runs while the DiT's arena is at its peak (onnxruntime keeps it), so it adds to it
  if (Math.max(...staged) > 0) parts['largest staged session'] = Math.max(...staged);
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
