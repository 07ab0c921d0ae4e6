import type { Manifest, ModelFileKey } from '../../pack/manifest.ts';
import type { ExecutionProvider } from './sessions.ts';

/**
 * The oldest CUDA compute capability with FP8 tensor cores (Ada: RTX 4090, L4, L40; Hopper H100/H200 is 9.0):
 * onnxruntime's `com.microsoft.GemmFloat8` (cuBLASLt FP8) fails on anything older.
 */
export const FP8_MIN_COMPUTE_CAPABILITY = 8.9;

const FIX =
  'use the fp16 pack or an int8/int4 copy of it: python3 exporter/quantize_pack.py --pack P --out P-int8 --quant int8';

/** The pack's graphs whose weights are fp8 (`files.<graph>.quant`), in manifest order. */
export function fp8Graphs(manifest: Manifest): ModelFileKey[] {
  return (Object.keys(manifest.files) as ModelFileKey[]).filter((key) => manifest.files[key].quant === 'fp8');
}

/**
 * `undefined` when every graph of the pack can run on `provider`, else the refusal in one line with the fix. An fp8
 * graph (`files.<graph>.quant`) needs CUDA on compute capability 8.9 or newer: onnxruntime's CPU provider has no
 * GemmFloat8, and an older GPU fails inside cuBLASLt at the first step, not at load. An unknown capability
 * (`nvidia-smi` did not answer) is let through: the caller says it started without the check.
 */
export function refuseUnsupportedQuant(
  manifest: Manifest,
  provider: ExecutionProvider,
  computeCapability: number | undefined,
): string | undefined {
  const fp8 = fp8Graphs(manifest);
  if (fp8.length === 0) return undefined;
  const names = fp8.map((key) => (key === 'dit' ? 'DiT' : key)).join(' and ');
  const fields = fp8.map((key) => `files.${key}.quant`).join(', ');
  const [verb, needs] = fp8.length === 1 ? ['runs', 'needs'] : ['run', 'need'];
  const what = `${manifest.name}: its fp8 ${names} (${fields})`;
  if (provider.name === 'cpu')
    return `${what} ${verb} only on CUDA (GemmFloat8, compute capability ${FP8_MIN_COMPUTE_CAPABILITY} or newer), not on the CPU provider: ${FIX}`;
  if (computeCapability !== undefined && computeCapability < FP8_MIN_COMPUTE_CAPABILITY)
    return `${what} ${needs} an NVIDIA GPU of compute capability ${FP8_MIN_COMPUTE_CAPABILITY} or newer (Ada, Hopper: GemmFloat8), and CUDA device ${provider.deviceId} is ${computeCapability.toFixed(1)}: ${FIX}`;
  return undefined;
}
