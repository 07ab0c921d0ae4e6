import type * as ort from 'onnxruntime-node';
import type { OnnxFileSpec, TensorSpecification } from '../../pack/manifest.ts';
import { loadOnnxRuntime } from './onnxruntime.ts';

/** Where the models run: the CPU by default, or a CUDA device (see ../shared/gpu/README.md for the provider). */
export type ExecutionProvider =
  | { readonly name: 'cpu'; readonly threads?: number }
  | { readonly name: 'cuda'; readonly deviceId: number };

/** A plain typed input or output, independent of onnxruntime's classes. */
export interface HostTensor {
  readonly data: Float32Array | BigInt64Array;
  readonly dims: readonly number[];
}

/** One ONNX graph of a pack, with its manifest I/O contract. */
export interface ModelSession {
  readonly label: string;
  /** Runs the graph; inputs are checked against the manifest first. Returns outputs by name. */
  run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/** A failed or refused `run`, with a summary of the inputs that were passed. */
export class ModelRunError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelRunError';
  }
}

/**
 * Creates a session for one pack file. The session's own input and output names must match the manifest, so a pack
 * whose manifest lies fails at load time, not in the middle of a job.
 */
export async function createModelSession(
  label: string,
  path: string,
  spec: OnnxFileSpec,
  provider: ExecutionProvider,
): Promise<ModelSession> {
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    executionProviders: provider.name === 'cuda' ? [{ name: 'cuda', deviceId: provider.deviceId }] : ['cpu'],
  };
  if (provider.name === 'cuda') {
    // Weights straight from the device allocator instead of onnxruntime's CUDA arena, which grows in powers of two
    // (a full-width 3-block DiT at 480p peaked at 21.1 GiB with this, 21.8 GiB without; docs/benchmarks.md).
    options.extra = { session: { use_device_allocator_for_initializers: '1' } };
  }
  if (provider.name === 'cpu' && provider.threads !== undefined) {
    options.intraOpNumThreads = provider.threads;
    options.interOpNumThreads = 1;
  }
  const runtime = await loadOnnxRuntime();
  let session: ort.InferenceSession;
  try {
    session = await runtime.InferenceSession.create(path, options);
  } catch (error) {
    throw new ModelRunError(`cannot load ${label} from ${path} on ${provider.name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const missing = spec.inputs.map((i) => i.name).filter((n) => !session.inputNames.includes(n));
  const missingOut = spec.outputs.map((o) => o.name).filter((n) => !session.outputNames.includes(n));
  if (missing.length > 0 || missingOut.length > 0) {
    await session.release();
    throw new ModelRunError(
      `${label} (${path}) does not match its manifest: graph inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}]; manifest expects inputs [${spec.inputs.map((i) => i.name).join(', ')}], outputs [${spec.outputs.map((o) => o.name).join(', ')}]`,
    );
  }

  return {
    label,
    async run(feeds) {
      checkFeeds(label, spec.inputs, feeds);
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const input of spec.inputs) {
        const feed = feeds[input.name];
        if (feed === undefined) continue;
        ortFeeds[input.name] = new runtime.Tensor(input.dtype === 'int64' ? 'int64' : 'float32', feed.data, [
          ...feed.dims,
        ]);
      }
      let results: ort.InferenceSession.ReturnType;
      try {
        results = await session.run(ortFeeds);
      } catch (error) {
        throw new ModelRunError(`${label} failed: ${(error as Error).message}\n  inputs: ${summarise(feeds)}`, {
          cause: error,
        });
      }
      const out: Record<string, HostTensor> = {};
      for (const output of spec.outputs) {
        const value = results[output.name];
        if (value === undefined)
          throw new ModelRunError(`${label} returned no "${output.name}"\n  inputs: ${summarise(feeds)}`);
        out[output.name] = { data: value.data as Float32Array, dims: value.dims };
      }
      return out;
    },
    release: () => session.release(),
  };
}

/**
 * Checks names, dtypes, ranks and fixed dimensions, and that a symbolic dimension used twice has one size across the
 * inputs (e.g. `batch`, `frames`), before anything reaches onnxruntime.
 */
function checkFeeds(
  label: string,
  specs: readonly TensorSpecification[],
  feeds: Readonly<Record<string, HostTensor>>,
): void {
  const problems: string[] = [];
  const symbols = new Map<string, number>();
  for (const spec of specs) {
    const feed = feeds[spec.name];
    if (feed === undefined) {
      problems.push(`missing input "${spec.name}"`);
      continue;
    }
    const isInt = feed.data instanceof BigInt64Array;
    if (isInt !== (spec.dtype === 'int64'))
      problems.push(`"${spec.name}" must be ${spec.dtype}, got ${isInt ? 'int64' : 'float32'}`);
    if (feed.dims.length !== spec.shape.length) {
      problems.push(
        `"${spec.name}" must have rank ${spec.shape.length} [${spec.shape.join(', ')}], got [${feed.dims.join(', ')}]`,
      );
      continue;
    }
    const size = feed.dims.reduce((a, b) => a * b, 1);
    if (size !== feed.data.length)
      problems.push(`"${spec.name}" has ${feed.data.length} values for dims [${feed.dims.join(', ')}]`);
    spec.shape.forEach((dim, axis) => {
      const actual = feed.dims[axis] ?? 0;
      if (typeof dim === 'number') {
        if (dim !== actual) problems.push(`"${spec.name}" axis ${axis} must be ${dim}, got ${actual}`);
        return;
      }
      const seen = symbols.get(dim);
      if (seen === undefined) symbols.set(dim, actual);
      else if (seen !== actual)
        problems.push(`"${spec.name}" axis ${axis} (${dim}) is ${actual} but ${dim} is ${seen} elsewhere`);
    });
  }
  for (const name of Object.keys(feeds))
    if (!specs.some((s) => s.name === name)) problems.push(`unexpected input "${name}"`);
  if (problems.length > 0)
    throw new ModelRunError(
      `${label}: refused to run with invalid inputs: ${problems.join('; ')}\n  inputs: ${summarise(feeds)}`,
    );
}

function summarise(feeds: Readonly<Record<string, HostTensor>>): string {
  return Object.entries(feeds)
    .map(([name, t]) => `${name}: ${t.data instanceof BigInt64Array ? 'int64' : 'float32'}[${t.dims.join(', ')}]`)
    .join(', ');
}
