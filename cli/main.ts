import process from 'node:process';
import { parseArgs } from 'node:util';
import { MediaError } from '../media/errors.ts';
import { ModelPackError } from '../pack/manifest.ts';
import { SamplerError } from '../sampler/index.ts';
import { GenerationError } from '../worker/generate.ts';
import { ModelRunError } from '../worker/runtime/sessions.ts';
import { runGenerate, TASKS } from './generate.ts';
import { runLong } from './long.ts';
import { noiseSummary, parseCondition, runTrace } from './trace.ts';
import { commandUsage, mainUsage } from './usage.ts';
import { UsageError } from './usage-error.ts';

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  // `pusa <command> --help` anywhere among the options: that command's usage, before any option is checked.
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    const usage = commandUsage(command);
    if (usage === undefined) throw new UsageError(`unknown command "${command}"\n\n${mainUsage()}`);
    process.stdout.write(usage);
    return;
  }
  if (TASKS.includes(command as never)) {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort(new Error('interrupted')));
    const started = performance.now();
    const result = await runGenerate(command as (typeof TASKS)[number], rest, controller.signal);
    if (rest.includes('--json')) print(result);
    else {
      if (result.replaced) process.stderr.write(`pusa: replaced the earlier ${result.output}, as --output asked\n`);
      process.stderr.write(
        `wrote ${result.output} (${result.frames} frames, ${(result.bytes / 1024).toFixed(0)} KiB) and ${result.latents} in ${((performance.now() - started) / 1000).toFixed(1)} s; seed ${result.seed} (--seed ${result.seed} makes it again)\n`,
      );
    }
    return;
  }
  switch (command) {
    case 'long': {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('interrupted')));
      const started = performance.now();
      const result = await runLong(rest, controller.signal);
      if (rest.includes('--json')) print(result);
      else
        process.stderr.write(
          `wrote ${result.output} (${result.segments} segments, ${result.frames} frames, ${result.seconds.toFixed(1)} s, ${(result.bytes / 1024).toFixed(0)} KiB) and ${result.latents} in ${((performance.now() - started) / 1000).toFixed(1)} s; seed ${result.seed} (--seed ${result.seed} makes it again)\n`,
        );
      return;
    }
    case 'trace':
      return trace(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(rest[0] === undefined ? mainUsage() : (commandUsage(rest[0]) ?? mainUsage()));
      return;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${mainUsage()}`);
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
