import { spawn } from 'node:child_process';

/** Samples nvidia-smi's used memory every 50 ms; `peak()` is the maximum since the last `reset()`. */
export function gpuMemoryProbe() {
  let peakMib = 0;
  let child: ReturnType<typeof spawn> | undefined;
  try {
    child = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '50'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.on('error', () => {
      child = undefined;
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const mib = Number(line.trim());
        if (line.trim() !== '' && Number.isFinite(mib)) peakMib = Math.max(peakMib, mib);
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
