import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Runs `nvidia-smi` with these arguments and resolves its stdout; rejects when it is missing or fails. */
export type NvidiaSmi = (args: readonly string[]) => Promise<string>;

const runNvidiaSmi: NvidiaSmi = async (args) =>
  (await promisify(execFile)('nvidia-smi', [...args], { timeout: 10_000 })).stdout;

/**
 * Total memory of CUDA device `deviceId` in bytes, from `nvidia-smi` (onnxruntime-node does not expose it), or
 * `undefined` when it cannot be asked (no driver tools on the host): the worker then starts without the fit check
 * and says so. `GPU_MEMORY_GIB` overrides it (a GPU shared with other processes, or a host without nvidia-smi).
 */
export async function gpuTotalBytes(
  deviceId: number,
  overrideGib?: number,
  smi: NvidiaSmi = runNvidiaSmi,
): Promise<number | undefined> {
  if (overrideGib !== undefined) return overrideGib * 2 ** 30;
  try {
    const stdout = await smi(['--query-gpu=memory.total', '--format=csv,noheader,nounits', '-i', String(deviceId)]);
    const mib = Number(stdout.trim().split('\n')[0]);
    return Number.isFinite(mib) && mib > 0 ? mib * 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CUDA compute capability of device `deviceId` (`9.0` for Hopper, `8.9` for Ada, `8.6` for Ampere A10/RTX 30),
 * from `nvidia-smi --query-gpu=compute_cap` (driver 510 or newer), or `undefined` when it cannot be asked or answers
 * something else: the worker then starts without the fp8 check and says so. `GPU_COMPUTE_CAPABILITY` overrides it.
 */
export async function gpuComputeCapability(
  deviceId: number,
  override?: number,
  smi: NvidiaSmi = runNvidiaSmi,
): Promise<number | undefined> {
  if (override !== undefined) return override;
  try {
    return parseComputeCapability(
      await smi(['--query-gpu=compute_cap', '--format=csv,noheader', '-i', String(deviceId)]),
    );
  } catch {
    return undefined;
  }
}

/** `major.minor` from the first line of `nvidia-smi --query-gpu=compute_cap` output (`9.0`), or undefined. */
export function parseComputeCapability(stdout: string): number | undefined {
  const match = /^(\d+)\.(\d)$/.exec(stdout.trim().split('\n')[0]?.trim() ?? '');
  return match === null ? undefined : Number(`${match[1]}.${match[2]}`);
}
