import { closeSync, openSync, writeSync } from 'node:fs';
import type { PusaModel } from './runtime/model.ts';

/**
 * Test-only fault injection, read only when `NODE_ENV=test` (Vitest sets it; production never does):
 *
 * - `PUSA_TEST_FAIL_DEVICE_AFTER_STEPS=N`: after N denoising steps in this process, the next `predict` throws the
 *   error onnxruntime's CUDA provider throws when the GPU goes away.
 * - `PUSA_TEST_FAIL_DEVICE_MARKER=path`: only the first process to get there fails (it creates `path`, holding its
 *   `WORKER_ID`); every other worker, and the restarted one, runs normally. Without it each process fails once.
 *
 * Returns the model unchanged when no fault is configured.
 */
export function withInjectedFaults(model: PusaModel, env: NodeJS.ProcessEnv, workerId: string): PusaModel {
  const after = env['PUSA_TEST_FAIL_DEVICE_AFTER_STEPS'];
  if (env['NODE_ENV'] !== 'test' || after === undefined || after === '') return model;
  const limit = Number(after);
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`PUSA_TEST_FAIL_DEVICE_AFTER_STEPS: not a step count`);
  const marker = env['PUSA_TEST_FAIL_DEVICE_MARKER'];
  let steps = 0;
  let fired = false;
  const claim = () => {
    if (fired) return false;
    fired = true;
    if (marker === undefined || marker === '') return true;
    try {
      const fd = openSync(marker, 'wx');
      writeSync(fd, workerId);
      closeSync(fd);
      return true;
    } catch {
      return false; // another worker lost "its GPU" already
    }
  };
  return {
    ...model,
    denoiser(positive, negative) {
      const inner = model.denoiser(positive, negative);
      return {
        async predict(input, signal) {
          steps += 1;
          if (steps > limit && claim()) {
            throw new Error(
              "Non-zero status code returned while running MatMul node. Name:'/blocks.0/self_attn/q/MatMul' " +
                'Status Message: CUDA error cudaErrorDevicesUnavailable:CUDA-capable device(s) is/are busy or ' +
                'unavailable (injected by PUSA_TEST_FAIL_DEVICE_AFTER_STEPS)',
            );
          }
          return inner.predict(input, signal);
        },
      };
    },
  };
}
