import { spawn } from 'node:child_process';
import process from 'node:process';

/**
 * Samples nvidia-smi every 50 ms; `peak()` is the maximum since the last `reset()` of the GPU memory that process
 * `pid` (default: this one) holds — its own, so a build or another benchmark on the same GPU does not count.
 */
export function gpuMemoryProbe(pid: number = process.pid) {
  let peakMib = 0;
  let child: ReturnType<typeof spawn> | undefined;
  try {
    child = spawn(
      'nvidia-smi',
      ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits', '-lms', '50'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    child.on('error', () => {
      child = undefined;
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const [who, used] = line.split(',').map((v) => Number(v.trim()));
        if (who === pid && used !== undefined && Number.isFinite(used)) peakMib = Math.max(peakMib, used);
      }
    });
  } catch {
    child = undefined;
  }
  return {
    reset: () => {
      peakMib = 0;
    },
    peakGib: () => (child === undefined ? Number.NaN : peakMib / 1024),
    stop: () => child?.kill(),
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
