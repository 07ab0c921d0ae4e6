import process from 'node:process';
import { loadModelPack, ModelPackError } from '../pack/manifest.ts';
import { gpuComputeCapability, type NvidiaSmi } from '../worker/gpu-memory.ts';
import { fp8Graphs, refuseUnsupportedQuant } from '../worker/runtime/quant-support.ts';
import type { ExecutionProvider } from '../worker/runtime/sessions.ts';

/**
 * Before any session: a pack this provider cannot run (an fp8 DiT on the CPU, or on a GPU older than Ada) is
 * refused with a {@link ModelPackError} naming the fix (`pusa: …`, exit code 2), the worker's check. When
 * `nvidia-smi` cannot say the GPU's compute capability, `warn` is told and the load goes ahead.
 */
export async function refuseUnrunnablePack(
  dir: string,
  provider: ExecutionProvider,
  warn: (line: string) => void = (line) => process.stderr.write(`pusa: ${line}\n`),
  smi?: NvidiaSmi,
): Promise<void> {
  const { manifest } = await loadModelPack(dir);
  if (fp8Graphs(manifest).length === 0) return;
  const capability =
    provider.name === 'cuda' ? await gpuComputeCapability(provider.deviceId, undefined, smi) : undefined;
  if (provider.name === 'cuda' && capability === undefined)
    warn('nvidia-smi did not answer: loading the fp8 pack without the compute capability check');
  const refusal = refuseUnsupportedQuant(manifest, provider, capability);
  if (refusal !== undefined) throw new ModelPackError(refusal);
}
