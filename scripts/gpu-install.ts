/**
 * `npm run gpu:install [-- --from FILE.tgz]`: puts onnxruntime-node's CUDA 13 provider in place, from the npm registry
 * (or from a package tarball fetched elsewhere with `npm pack com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9`, for
 * hosts without registry access), then runs the same check as `npm run gpu:check`.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { diagnose, gatherFacts, installProvider, onnxruntimeNode } from './gpu-provider.ts';

const { values } = parseArgs({ options: { from: { type: 'string' } } });
const ort = onnxruntimeNode();
try {
  await installProvider({
    binDir: ort.binDir,
    coreVersion: ort.version,
    ...(values.from === undefined ? {} : { from: values.from }),
    log: (line) => console.log(line),
  });
} catch (error) {
  console.error(`gpu:install: ${(error as Error).message}`);
  process.exit(1);
}
const diagnosis = diagnose(await gatherFacts(ort.binDir, ort.version));
if (diagnosis.ok)
  console.log('gpu:install: done; the host has what the CUDA provider needs (npm run gpu:check to load a model)');
else {
  console.log('gpu:install: the provider is installed, but this host cannot use it yet:');
  for (const problem of diagnosis.problems) console.log(`  - ${problem}`);
}
