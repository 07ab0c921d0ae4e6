import process from 'node:process';
import { parseArgs } from 'node:util';
import { MediaError } from '../media/errors.ts';
import { SamplerError } from '../sampler/index.ts';
import { GenerationError } from '../worker/generate.ts';
import { ModelPackError } from '../worker/runtime/manifest.ts';
import { ModelRunError } from '../worker/runtime/sessions.ts';
import { runGenerate, TASKS } from './generate.ts';
import { noiseSummary, parseCondition, runTrace } from './trace.ts';
import { UsageError } from './usage-error.ts';

const USAGE = `usage: pusa <command> [options]

commands:
  t2v          text to video               --prompt "…"
  i2v          image to video              --image PATH --prompt "…"
  start-end    start and end frames        --image START --image END --prompt "…"
  keyframes    keyframes at latent indices --image PATH@LATENT_INDEX (repeat) --prompt "…"
  extend       continue a clip from its end --clip PATH --prompt "…"
  transition   bridge two clips            --clip FROM --clip TO --prompt "…"
    common: --model DIR (models/pusa-mini) --negative-prompt T --steps N --shift S --cfg G --seed K
            --noise-multiplier M[,M…] --overlap K --frames N --size WxH --fit crop|letterbox|stretch
            --fps F --max-bytes B --output PATH --provider cpu|cuda --device-id N --threads N --json --quiet
  trace   run the sampler on an analytic stand-in model and print one JSON object
          --steps N --shift S --channels C --frames F --height H --width W --seed K --cfg G [--cond IDX:M ...]
          --print noise --seed K --shape a,b,...   print a summary of torch-compatible noise
`;

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (TASKS.includes(command as never)) {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort(new Error('interrupted')));
    const started = performance.now();
    const result = await runGenerate(command as (typeof TASKS)[number], rest, controller.signal);
    if (rest.includes('--json')) print(result);
    else
      process.stderr.write(
        `wrote ${result.output} (${result.frames} frames, ${(result.bytes / 1024).toFixed(0)} KiB, seed ${result.seed}) and ${result.latents} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    return;
  }
  switch (command) {
    case 'trace':
      return trace(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

async function trace(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      steps: { type: 'string', default: '10' },
      shift: { type: 'string', default: '5' },
      channels: { type: 'string', default: '16' },
      frames: { type: 'string', default: '5' },
      height: { type: 'string', default: '4' },
      width: { type: 'string', default: '4' },
      seed: { type: 'string', default: '0' },
      cfg: { type: 'string', default: '1' },
      cond: { type: 'string', multiple: true, default: [] },
      print: { type: 'string' },
      shape: { type: 'string' },
    },
  });
  const seed = integer(values.seed, '--seed', Number.MIN_SAFE_INTEGER);
  if (values.print !== undefined) {
    if (values.print !== 'noise') throw new UsageError(`--print accepts only "noise", got "${values.print}"`);
    if (values.shape === undefined) throw new UsageError('--print noise needs --shape a,b,...');
    const shape = values.shape.split(',').map((d) => integer(d, '--shape', 1));
    print(noiseSummary(shape, seed));
    return;
  }
  print(
    await runTrace({
      steps: integer(values.steps, '--steps', 1),
      shift: number(values.shift, '--shift'),
      channels: integer(values.channels, '--channels', 1),
      frames: integer(values.frames, '--frames', 1),
      height: integer(values.height, '--height', 1),
      width: integer(values.width, '--width', 1),
      seed,
      cfg: number(values.cfg, '--cfg'),
      conditions: values.cond.map(parseCondition),
    }),
  );
}

function integer(text: string, flag: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min)
    throw new UsageError(`${flag} expects an integer ≥ ${min}, got "${text}"`);
  return value;
}

function number(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} expects a number, got "${text}"`);
  return value;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (
    error instanceof UsageError ||
    error instanceof SamplerError ||
    error instanceof MediaError ||
    error instanceof GenerationError ||
    error instanceof ModelPackError ||
    (error instanceof TypeError && 'code' in error)
  ) {
    process.stderr.write(`pusa: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  if (error instanceof Error && error.message === 'interrupted') {
    process.stderr.write('pusa: interrupted\n');
    process.exitCode = 130;
    return;
  }
  if (error instanceof ModelRunError) {
    process.stderr.write(`pusa: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stderr.write(
    `pusa: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
