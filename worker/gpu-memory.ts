import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Total memory of CUDA device `deviceId` in bytes, from `nvidia-smi` (onnxruntime-node does not expose it), or
 * `undefined` when it cannot be asked (no driver tools on the host): the worker then starts without the fit check
 * and says so. `GPU_MEMORY_GIB` overrides it (a GPU shared with other processes, or a host without nvidia-smi).
 */
export async function gpuTotalBytes(deviceId: number, overrideGib?: number): Promise<number | undefined> {
  if (overrideGib !== undefined) return overrideGib * 2 ** 30;
  try {
    const { stdout } = await promisify(execFile)(
      'nvidia-smi',
      ['--query-gpu=memory.total', '--format=csv,noheader,nounits', '-i', String(deviceId)],
      { timeout: 10_000 },
    );
    const mib = Number(stdout.trim().split('\n')[0]);
    return Number.isFinite(mib) && mib > 0 ? mib * 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}
