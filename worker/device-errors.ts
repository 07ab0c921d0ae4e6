/**
 * Errors that mean this worker's GPU is no longer usable (lost, reset, out of memory), as opposed to errors of the job
 * or of the infrastructure around it. onnxruntime-node reports them as plain `Error`s thrown by `session.run`, with
 * the CUDA provider's text in the message, e.g.
 * `Non-zero status code returned while running MatMul node. … CUDA error cudaErrorIllegalAddress:an illegal memory
 * access was encountered` or `CUDA failure 2: out of memory ; GPU=0 ; … expr=cudaMalloc(…)`, so they are recognised
 * by their text. A worker that sees one fails the job back to the queue (another worker retries it) and exits with
 * {@link DEVICE_LOST_EXIT_CODE}: after a device error every later `session.run` on the same CUDA context fails too.
 */

/** The exit code of a worker that stopped because its device failed; the pool restarts it. (EX_TEMPFAIL) */
export const DEVICE_LOST_EXIT_CODE = 75;

const DEVICE_ERROR_PATTERNS: readonly RegExp[] = [
  /\bCUDA\b/, // "CUDA failure 999: unknown error", "CUDA error cudaErrorLaunchFailure"
  /\bcuda(?:Error|Malloc|Memcpy|StreamSynchronize)\w*/, // "cudaErrorDevicesUnavailable", "expr=cudaMalloc(…)"
  /\bCUBLAS\b|CUBLAS_STATUS_/i,
  /\bCUDNN\b|CUDNN_STATUS_/i,
  /\bCURAND\b|\bCUFFT\b|\bNCCL\b/,
  /out of memory/i, // CUDA's own text ("CUDA failure 2: out of memory")
  /Failed to allocate memory for requested buffer|\bBFCArena\b/, // onnxruntime's arena when the GPU is full
  /\bdevice(?:[- ]side assert| (?:is )?(?:lost|removed|unavailable|busy or unavailable|not ready))/i,
  /\bGPU (?:is lost|has fallen off the bus)/i,
  /uncorrectable ECC error/i,
];

/** True when `error` reads like a failure of the GPU itself rather than of the job or of Redis. */
export function isDeviceError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  if (message === '') return false;
  return DEVICE_ERROR_PATTERNS.some((pattern) => pattern.test(message));
}

/**
 * A job failed because the device did: retryable (BullMQ retries it with the job's attempts, on whichever worker takes
 * it next), and the worker that threw it stops taking jobs. The original error is kept as `cause`.
 */
export class DeviceLostError extends Error {
  readonly code = 'DeviceLost';

  constructor(cause: unknown) {
    super(`the GPU failed while running this job: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'DeviceLostError';
  }
}
