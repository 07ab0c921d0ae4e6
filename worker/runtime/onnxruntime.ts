import process from 'node:process';
import type * as Ort from 'onnxruntime-node';

/**
 * onnxruntime's own switch. On Linux and macOS, onnxruntime 1.29 records telemetry through Microsoft's 1DS SDK: a
 * persistent device id and a SQLite queue of events (model file names, run counts and durations) under
 * `~/.cache/Microsoft/DeveloperTools/.onnxruntime`, uploaded when the host is online. Its native code reads this
 * variable once, when the library initialises, so it must be in the environment before the module is loaded.
 */
export const ORT_TELEMETRY_SWITCH = 'ORT_DISABLE_TELEMETRY';

let loaded: Promise<typeof Ort> | undefined;

/**
 * The only way our code loads onnxruntime-node. A self-hosted product sends nothing home by default: telemetry is
 * switched off unless the operator set `ORT_DISABLE_TELEMETRY` themselves (`0` opts in; docs/deploy.md). The module
 * is imported lazily, after the switch is set, because static imports are evaluated before any statement of ours.
 */
export function loadOnnxRuntime(): Promise<typeof Ort> {
  if (loaded === undefined) {
    if (process.env[ORT_TELEMETRY_SWITCH] === undefined) process.env[ORT_TELEMETRY_SWITCH] = '1';
    loaded = import('onnxruntime-node');
  }
  return loaded;
}
