import { describe, expect, it } from 'vitest';
import { DEVICE_LOST_EXIT_CODE, DeviceLostError, isDeviceError } from '../../worker/device-errors.ts';
import {
  loadPool,
  nextRestartDelay,
  PoolConfig,
  PoolConfigError,
  parseNvidiaSmiIndices,
  parseWorkerGpus,
  planPool,
} from '../../worker/pool-plan.ts';

const smi = (output: string) => () => output;
const noSmi = () => {
  throw new PoolConfigError(
    'WORKER_GPUS=all needs nvidia-smi to list this host GPUs, and it failed (spawnSync ENOENT)',
  );
};

describe('the worker pool plan', () => {
  it('reads the GPU indices nvidia-smi prints', () => {
    expect(parseNvidiaSmiIndices('0\n1\n2\n3\n')).toEqual([0, 1, 2, 3]);
    expect(parseNvidiaSmiIndices(' 0\r\n 1 \n')).toEqual([0, 1]);
    expect(() => parseNvidiaSmiIndices('')).toThrow(/lists no GPU/);
    expect(() => parseNvidiaSmiIndices('No devices were found\n')).toThrow(/unexpected line/);
  });

  it('parses WORKER_GPUS: all, a list, cpu:N; and refuses anything else', () => {
    expect(parseWorkerGpus('all', smi('0\n1\n'))).toEqual({ kind: 'gpu', gpus: [0, 1] });
    expect(parseWorkerGpus('0,1,3', noSmi)).toEqual({ kind: 'gpu', gpus: [0, 1, 3] });
    expect(parseWorkerGpus('cpu:3', noSmi)).toEqual({ kind: 'cpu', count: 3 });
    expect(() => parseWorkerGpus('all', noSmi)).toThrow(/needs nvidia-smi/);
    expect(() => parseWorkerGpus('cpu:0')).toThrow(/N ≥ 1/);
    expect(() => parseWorkerGpus('0,0')).toThrow(/twice/);
    expect(() => parseWorkerGpus('gpu0')).toThrow(/"all", GPU indices like "0,1,3" or "cpu:N"/);
  });

  it('pins each GPU worker to its GPU alone, with its own id and health port', () => {
    const config = PoolConfig.parse({ WORKER_GPUS: 'all' });
    const slots = planPool(config, { WORKER_ID: 'gpu-host-7', WORKER_HEALTH_PORT: '9470' }, smi('0\n1\n3\n'));

    expect(slots.map((s) => [s.name, s.gpu])).toEqual([
      ['gpu0', 0],
      ['gpu1', 1],
      ['gpu3', 3],
    ]);
    expect(slots[2]?.env).toEqual({
      EXECUTION_PROVIDER: 'cuda',
      CUDA_VISIBLE_DEVICES: '3',
      CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
      CUDA_DEVICE_ID: '0',
      WORKER_ID: 'gpu-host-7-gpu3',
      WORKER_HEALTH_PORT: '9472',
    });
    expect(new Set(slots.map((s) => s.env['WORKER_ID'])).size).toBe(3);
  });

  it('starts N CPU workers for cpu:N, and leaves health ports to the OS when the base is 0', () => {
    const slots = planPool(PoolConfig.parse({ WORKER_GPUS: 'cpu:2' }), { WORKER_ID: 'h', WORKER_HEALTH_PORT: '0' });

    expect(slots.map((s) => s.env)).toEqual([
      { EXECUTION_PROVIDER: 'cpu', WORKER_ID: 'h-cpu0', WORKER_HEALTH_PORT: '0' },
      { EXECUTION_PROVIDER: 'cpu', WORKER_ID: 'h-cpu1', WORKER_HEALTH_PORT: '0' },
    ]);
  });

  it("checks every worker's environment with the worker's own validation before starting any", () => {
    expect(() => loadPool({ WORKER_GPUS: 'cpu:2', REDIS_URL: 'not a url', LOG_LEVEL: 'loud' })).toThrow(
      /invalid pool configuration:[\s\S]*LOG_LEVEL/,
    );
    expect(() => loadPool({ WORKER_GPUS: 'cpu:2', REDIS_URL: 'not a url' })).toThrow(
      /invalid worker configuration:[\s\S]*REDIS_URL/,
    );
    expect(loadPool({ WORKER_GPUS: '0,1' }, noSmi).slots).toHaveLength(2);
  });

  it('backs off restarts and gives up after POOL_MAX_RESTARTS crashes within the window', () => {
    const config = { POOL_MAX_RESTARTS: 3, POOL_RESTART_WINDOW_MS: 60_000, POOL_RESTART_DELAY_MS: 1000 };

    expect(nextRestartDelay([100_000], 100_000, config)).toBe(1000);
    expect(nextRestartDelay([99_000, 100_000], 100_000, config)).toBe(2000);
    expect(nextRestartDelay([98_000, 99_000, 100_000], 100_000, config)).toBe(4000);
    expect(nextRestartDelay([97_000, 98_000, 99_000, 100_000], 100_000, config)).toBeUndefined();
    // Crashes older than the window are forgotten.
    expect(nextRestartDelay([1_000, 2_000, 3_000, 100_000], 100_000, config)).toBe(1000);
  });
});

describe('device errors', () => {
  it.each([
    "Non-zero status code returned while running MatMul node. Name:'/blocks.0/ffn/MatMul' Status Message: CUDA error cudaErrorIllegalAddress:an illegal memory access was encountered",
    'CUDA failure 2: out of memory ; GPU=0 ; hostname=h ; file=cuda_allocator.cc ; line=47 ; expr=cudaMalloc((void**)&p, size);',
    'CUDA failure 999: unknown error ; GPU=1 ; expr=cudaStreamSynchronize(stream);',
    'CUBLAS failure 13: CUBLAS_STATUS_EXECUTION_FAILED ; GPU=0',
    'CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR ; GPU=0',
    'cudaErrorDevicesUnavailable: all CUDA-capable devices are busy or unavailable',
    '/onnxruntime/core/framework/bfc_arena.cc:359 BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 671088640',
    'device-side assert triggered',
    'the device is lost',
    'uncorrectable ECC error encountered',
  ])('recognises %s', (message) => {
    expect(isDeviceError(new Error(message))).toBe(true);
  });

  it.each([
    'connect ECONNREFUSED 127.0.0.1:6379',
    "OOM command not allowed when used memory > 'maxmemory'.",
    'Connection is closed.',
    'pusa-mini makes 17, 33 frames; got 18',
    'the image for this request expired before a worker got to it; please send it again',
    "input 'x' has shape [2,16,5,16,16], expected [2,16,9,16,16]",
    'ENOSPC: no space left on device, write',
  ])('leaves %s to the other failure paths', (message) => {
    expect(isDeviceError(new Error(message))).toBe(false);
  });

  it('wraps the original error, retryable, with a code of its own', () => {
    const cause = new Error('CUDA error cudaErrorLaunchFailure');
    const error = new DeviceLostError(cause);

    expect(error).toMatchObject({ name: 'DeviceLostError', code: 'DeviceLost', cause });
    expect(error.message).toMatch(/the GPU failed while running this job: CUDA error/);
    expect(DEVICE_LOST_EXIT_CODE).toBe(75);
  });
});
