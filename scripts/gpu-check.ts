/**
 * `npm run gpu:check [-- --model DIR] [--device-id N]`: says in one message what stops onnxruntime-node's CUDA
 * provider from working on this host (provider files, their version, NVIDIA driver, CUDA 13 runtime, cuDNN 9) instead
 * of onnxruntime's stack of loader errors; when nothing is missing it loads the pack's text encoder on the GPU to
 * prove it. Exit code 0 when the GPU path works, 1 otherwise.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { loadModelPack } from '../pack/manifest.ts';
import { createModelSession } from '../worker/runtime/sessions.ts';
import { diagnose, gatherFacts, onnxruntimeNode } from './gpu-provider.ts';

const { values } = parseArgs({
  options: { model: { type: 'string', default: 'models/pusa-mini' }, 'device-id': { type: 'string', default: '0' } },
});
const ort = onnxruntimeNode();
const facts = await gatherFacts(ort.binDir, ort.version);
const diagnosis = diagnose(facts);
if (!diagnosis.ok) {
  console.error(`gpu:check: onnxruntime-node ${ort.version} cannot use the GPU here:`);
  for (const problem of diagnosis.problems) console.error(`  - ${problem}`);
  process.exit(1);
}
console.log(
  `gpu:check: provider ORT ${facts.marker?.ortVersion}, driver ${facts.driver}, CUDA and cuDNN libraries found`,
);
const pack = await loadModelPack(values.model);
try {
  const session = await createModelSession('text encoder', pack.paths.textEncoder, pack.manifest.files.textEncoder, {
    name: 'cuda',
    deviceId: Number(values['device-id']),
  });
  await session.release();
  console.log(`gpu:check: ok, ${values.model}'s text encoder loaded on CUDA device ${values['device-id']}`);
} catch (error) {
  // the static checks passed, so what is left is onnxruntime's own first line (a busy or absent device, a wrong id)
  console.error(
    `gpu:check: the libraries are in place but a CUDA session failed: ${(error as Error).message.split('\n')[0]}`,
  );
  process.exit(1);
}
