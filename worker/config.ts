import { existsSync } from 'node:fs';
import os from 'node:os';
import process from 'node:process';
import { z } from 'zod';

const Int = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

/** Worker settings from the environment; README.md lists them. */
export const WorkerConfig = z.object({
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().min(1).default('pusa'),
  MODEL_DIR: z.string().min(1).default('models/pusa-mini'),
  EXECUTION_PROVIDER: z.enum(['cpu', 'cuda']).default('cpu'),
  CUDA_DEVICE_ID: Int(0),
  ORT_THREADS: z.coerce.number().int().positive().optional(),
  /**
   * What to keep where for the GPU's size (worker/runtime/memory-profile.ts): `141gb` everything resident, batched
   * guidance, whole-frame decodes; `80gb` the same with the VAE in the reference's tiles; `48gb` sequential guidance,
   * text encoder and VAE on the GPU only while they run; `24gb` also the DiT only while it samples (one stage on the
   * GPU at a time). The worker refuses to start when the pack does not fit the profile.
   */
  MEMORY_PROFILE: z.enum(['141gb', '80gb', '48gb', '24gb']).default('80gb'),
  /** Overrides the profile: `sequential` runs a guided step's two passes one after the other (half the activations). */
  GUIDANCE: z.enum(['batched', 'sequential']).optional(),
  /** Overrides the profile: the text encoder resident on the GPU, on it only while encoding, or on the CPU. */
  TEXT_ENCODER: z.enum(['gpu', 'gpu-staged', 'cpu']).optional(),
  /** Overrides the profile: the VAE sessions resident, or opened per encode/decode and released after. */
  VAE_SESSIONS: z.enum(['resident', 'staged']).optional(),
  /** Overrides the profile: the pack's VAE tiling, or the reference's tiles (a bounded decode peak). */
  VAE_TILES: z.enum(['pack', 'reference']).optional(),
  /** Overrides the profile: the DiT resident, or opened for each job's sampling and released before its decode. */
  DIT_SESSION: z.enum(['resident', 'staged']).optional(),
  /** The GPU's memory for the fit check, when nvidia-smi cannot say (or the GPU is shared). */
  GPU_MEMORY_GIB: z.coerce.number().positive().optional(),
  /** The GPU's CUDA compute capability (`8.9`) for the fp8 check, when nvidia-smi cannot say. */
  GPU_COMPUTE_CAPABILITY: z
    .string()
    .regex(/^\d+\.\d$/, 'a compute capability like 8.9 or 9.0 (nvidia-smi --query-gpu=compute_cap)')
    .transform(Number)
    .optional(),
  WORKER_ID: z.string().min(1).default(`${os.hostname()}-${process.pid}`),
  /** Health and metrics port; 0 picks a free one. */
  WORKER_HEALTH_PORT: Int(9465),
  PREVIEW_EVERY: z.coerce.number().int().positive().default(2),
  /** Attempts per job: a worker that dies mid-job hands it to another. */
  JOB_ATTEMPTS: z.coerce.number().int().positive().default(3),
  /** How long a job's lock lives without renewal: a dead worker's job is retried after about this long. */
  LOCK_DURATION_MS: z.coerce.number().int().positive().default(30_000),
  STALLED_INTERVAL_MS: z.coerce.number().int().positive().default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type WorkerConfig = z.infer<typeof WorkerConfig>;

/** Parses the environment once; every problem is listed in one error. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = withDotEnv()): WorkerConfig {
  const parsed = WorkerConfig.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid worker configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  return Object.freeze(parsed.data);
}

/** The environment, after an optional `.env` in the working directory (variables already set win). */
export function withDotEnv(): NodeJS.ProcessEnv {
  if (existsSync('.env')) process.loadEnvFile('.env');
  return process.env;
}
