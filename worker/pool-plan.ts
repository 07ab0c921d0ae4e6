import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { z } from 'zod';
import { loadWorkerConfig } from './config.ts';

/**
 * What `npm run workers` starts: one worker process per GPU of this host (or N CPU workers), each with the
 * environment that pins it to its device. Pure apart from the `nvidia-smi` call, which is injected for tests.
 */

const Positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The pool's own settings; every worker setting (README, docs/deploy.md) is passed on to each worker. */
export const PoolConfig = z.object({
  /** `all` (every GPU nvidia-smi lists), a list of GPU indices `0,1,3`, or `cpu:N` for N CPU workers. */
  WORKER_GPUS: z.string().trim().min(1).default('all'),
  /** A worker that dies more often than this within the window is not restarted again. */
  POOL_MAX_RESTARTS: Positive(5),
  POOL_RESTART_WINDOW_MS: Positive(600_000),
  /** Wait before the first restart of a worker; doubles with each crash in the window, up to 30 s. */
  POOL_RESTART_DELAY_MS: Positive(1_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type PoolConfig = z.infer<typeof PoolConfig>;

/** One worker of the pool: the device it owns and the environment it gets on top of the pool's. */
export interface PoolSlot {
  /** `gpu<N>` or `cpu<N>`; the suffix of its worker id. */
  readonly name: string;
  /** The GPU index as nvidia-smi numbers it, or undefined for a CPU worker. */
  readonly gpu: number | undefined;
  readonly env: Readonly<Record<string, string>>;
}

export class PoolConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolConfigError';
  }
}

/** The GPU indices in `nvidia-smi --query-gpu=index --format=csv,noheader` output. */
export function parseNvidiaSmiIndices(output: string): number[] {
  const indices = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      if (!/^\d+$/.test(line)) throw new PoolConfigError(`unexpected line in nvidia-smi output: ${line}`);
      return Number(line);
    });
  if (indices.length === 0) throw new PoolConfigError('nvidia-smi lists no GPU on this host');
  return indices;
}

/** Runs nvidia-smi; its stdout, or a clear error when it is missing or fails. */
export function runNvidiaSmi(): string {
  const result = spawnSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    const why = result.error?.message ?? (result.stderr.trim() || `exit ${result.status}`);
    throw new PoolConfigError(
      `WORKER_GPUS=all needs nvidia-smi to list this host's GPUs, and it failed (${why}); ` +
        'name the GPUs instead (WORKER_GPUS=0,1) or run CPU workers (WORKER_GPUS=cpu:2)',
    );
  }
  return result.stdout;
}

/** `WORKER_GPUS` as a device list: GPU indices, or a CPU worker count. */
export function parseWorkerGpus(
  value: string,
  discover: () => string = runNvidiaSmi,
): { kind: 'gpu'; gpus: number[] } | { kind: 'cpu'; count: number } {
  const cpu = /^cpu:(\d+)$/.exec(value);
  if (cpu !== null) {
    const count = Number(cpu[1]);
    if (count < 1) throw new PoolConfigError('WORKER_GPUS=cpu:N needs N ≥ 1');
    return { kind: 'cpu', count };
  }
  if (value === 'all') return { kind: 'gpu', gpus: parseNvidiaSmiIndices(discover()) };
  const parts = value.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part))) {
    throw new PoolConfigError(`WORKER_GPUS must be "all", GPU indices like "0,1,3" or "cpu:N"; got "${value}"`);
  }
  const gpus = parts.map(Number);
  if (new Set(gpus).size !== gpus.length) throw new PoolConfigError(`WORKER_GPUS lists a GPU twice: "${value}"`);
  return { kind: 'gpu', gpus };
}

/**
 * One slot per device, each with its environment:
 *
 * - `CUDA_VISIBLE_DEVICES=<N>`: the worker sees only its GPU. Without it onnxruntime's CUDA provider and cuDNN still
 *   create a context (hundreds of MB, and a process on the wrong card in nvidia-smi) on GPU 0 of every worker.
 *   Inside the process that GPU is then device 0, hence `CUDA_DEVICE_ID=0`.
 * - `CUDA_DEVICE_ORDER=PCI_BUS_ID`: CUDA numbers GPUs fastest-first by default, nvidia-smi by PCI bus; this makes the
 *   index in `WORKER_GPUS` the one nvidia-smi shows.
 * - `WORKER_ID=<host>-gpu<N>` (`<host>` is `WORKER_ID` when set, else the hostname) and, when `WORKER_HEALTH_PORT`
 *   is not 0, one health port per worker counting up from it.
 */
export function planPool(
  config: PoolConfig,
  env: NodeJS.ProcessEnv,
  discover: () => string = runNvidiaSmi,
): PoolSlot[] {
  const devices = parseWorkerGpus(config.WORKER_GPUS, discover);
  const host = env['WORKER_ID'] || os.hostname();
  const basePort = Number(env['WORKER_HEALTH_PORT'] || 9465);
  const port = (i: number) => String(basePort === 0 ? 0 : basePort + i);
  if (devices.kind === 'cpu') {
    return Array.from({ length: devices.count }, (_, i) => ({
      name: `cpu${i}`,
      gpu: undefined,
      env: { EXECUTION_PROVIDER: 'cpu', WORKER_ID: `${host}-cpu${i}`, WORKER_HEALTH_PORT: port(i) },
    }));
  }
  return devices.gpus.map((gpu, i) => ({
    name: `gpu${gpu}`,
    gpu,
    env: {
      EXECUTION_PROVIDER: 'cuda',
      CUDA_VISIBLE_DEVICES: String(gpu),
      CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
      CUDA_DEVICE_ID: '0',
      WORKER_ID: `${host}-gpu${gpu}`,
      WORKER_HEALTH_PORT: port(i),
    },
  }));
}

/** The pool's settings and its slots, every worker's environment checked by the worker's own validation. */
export function loadPool(
  env: NodeJS.ProcessEnv,
  discover: () => string = runNvidiaSmi,
): { config: PoolConfig; slots: PoolSlot[] } {
  const parsed = PoolConfig.safeParse(env);
  if (!parsed.success) {
    throw new PoolConfigError(
      `invalid pool configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  const slots = planPool(parsed.data, env, discover);
  // Fails once here, listing every problem, rather than once per worker and restart.
  for (const slot of slots) loadWorkerConfig({ ...env, ...slot.env });
  return { config: parsed.data, slots };
}

/**
 * Restart bookkeeping for one slot: the delay before the next start, or undefined when it crashed more than
 * `maxRestarts` times within `windowMs` (then it stays down).
 */
export function nextRestartDelay(
  crashes: number[],
  now: number,
  config: Pick<PoolConfig, 'POOL_MAX_RESTARTS' | 'POOL_RESTART_WINDOW_MS' | 'POOL_RESTART_DELAY_MS'>,
): number | undefined {
  const recent = crashes.filter((t) => now - t < config.POOL_RESTART_WINDOW_MS);
  if (recent.length > config.POOL_MAX_RESTARTS) return undefined;
  return Math.min(30_000, config.POOL_RESTART_DELAY_MS * 2 ** Math.max(0, recent.length - 1));
}
