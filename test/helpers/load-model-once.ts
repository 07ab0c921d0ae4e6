/**
 * A child process for the telemetry test: loads the shipped pack through the worker's runtime (every session the
 * worker, CLI and benchmarks create goes this way), then exits.
 */
import { loadPusaModel } from '../../worker/runtime/model.ts';
import { PACK_DIR } from './pack.ts';

const model = await loadPusaModel(PACK_DIR);
await model.release();
process.stdout.write('loaded\n');
