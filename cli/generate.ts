import { existsSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { drawSeed } from '../bot/core/seed.ts';
import { type FitMode, normalizeImage } from '../media/image.ts';
import { decodeFrames, encodeMp4, probeClip } from '../media/mp4.ts';
import { readSidecar, sidecarPathFor, writeSidecar } from '../media/sidecar.ts';
import {
  type ClipSource,
  type ConditionImage,
  type GenerationInput,
  type GenerationTask,
  generate,
} from '../worker/generate.ts';
import { MEMORY_PROFILES, type MemoryProfileName } from '../worker/runtime/memory-profile.ts';
import { loadPusaModel, type PusaModel } from '../worker/runtime/model.ts';
import type { ExecutionProvider } from '../worker/runtime/sessions.ts';
import { planOutput, writeOutput } from './output-path.ts';
import { refuseUnrunnablePack } from './pack-check.ts';
import { UsageError } from './usage-error.ts';

export const TASKS: readonly GenerationTask[] = ['t2v', 'i2v', 'start-end', 'keyframes', 'extend', 'transition'];

/** The pack this repository ships, found from any working directory (the `pusa` bin may run anywhere). */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../models/pusa-mini', import.meta.url));

/** Frame rates ffmpeg's H.264 encoder and every player we target handle. */
const FPS_RANGE = { min: 1, max: 240 } as const;

const OPTIONS = {
  model: { type: 'string', default: DEFAULT_MODEL_DIR },
  prompt: { type: 'string' },
  'negative-prompt': { type: 'string' },
  steps: { type: 'string' },
  shift: { type: 'string' },
  cfg: { type: 'string' },
  seed: { type: 'string' },
  'noise-multiplier': { type: 'string', multiple: true },
  overlap: { type: 'string' },
  frames: { type: 'string' },
  size: { type: 'string' },
  fit: { type: 'string', default: 'crop' },
  fps: { type: 'string' },
  'max-bytes': { type: 'string' },
  output: { type: 'string' },
  image: { type: 'string', multiple: true },
  clip: { type: 'string', multiple: true },
  provider: { type: 'string', default: 'cpu' },
  'device-id': { type: 'string', default: '0' },
  threads: { type: 'string' },
  'memory-profile': { type: 'string', default: '80gb' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

/** What one CLI generation produced. */
export interface CliResult {
  output: string;
  latents: string;
  seed: number;
  parameters: unknown;
  timings: Record<string, number>;
  /** Each sampling step's milliseconds, in order. */
  stepMs: number[];
  bytes: number;
  frames: number;
  /** True when `--output` named an existing file and it was replaced. */
  replaced: boolean;
}

/** `pusa <task> …`: parse flags, load the pack, read inputs, generate, write the MP4 and its latents. */
export async function runGenerate(
  task: GenerationTask,
  args: readonly string[],
  signal: AbortSignal,
): Promise<CliResult> {
  const { values } = parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: false });
  const provider: ExecutionProvider =
    values.provider === 'cuda'
      ? { name: 'cuda', deviceId: int(values['device-id'], '--device-id', 0) }
      : values.provider === 'cpu'
        ? values.threads === undefined
          ? { name: 'cpu' }
          : { name: 'cpu', threads: int(values.threads, '--threads', 1) }
        : fail(`--provider accepts cpu or cuda, got "${values.provider}"`);
  const fit = values.fit as FitMode;
  if (!['crop', 'letterbox', 'stretch'].includes(fit))
    throw new UsageError(`--fit accepts crop, letterbox or stretch, got "${values.fit}"`);
  if (values.prompt === undefined || values.prompt.trim() === '') throw new UsageError(`${task} needs --prompt "…"`);
  // Everything that only matters after sampling (encoding, the output path) is checked now: a mistake found after
  // minutes of sampling would throw the clip away.
  const fps = values.fps === undefined ? undefined : num(values.fps, '--fps');
  if (fps !== undefined && (fps < FPS_RANGE.min || fps > FPS_RANGE.max))
    throw new UsageError(`--fps must be between ${FPS_RANGE.min} and ${FPS_RANGE.max}, got ${values.fps}`);
  const maxBytes = values['max-bytes'] === undefined ? undefined : int(values['max-bytes'], '--max-bytes', 1);
  const seed = values.seed === undefined ? drawSeed() : int(values.seed, '--seed', 0);
  const frameCount = values.frames === undefined ? undefined : int(values.frames, '--frames', 1);
  const requestedSize = values.size === undefined ? undefined : parseSize(values.size);
  const sampling = {
    ...opt('steps', values.steps === undefined ? undefined : int(values.steps, '--steps', 1)),
    ...opt('shift', values.shift === undefined ? undefined : num(values.shift, '--shift')),
    ...opt('guidance', values.cfg === undefined ? undefined : num(values.cfg, '--cfg')),
    ...opt(
      'noiseMultipliers',
      values['noise-multiplier']?.flatMap((v) => v.split(',')).map((v) => num(v, '--noise-multiplier')),
    ),
    ...opt('overlap', values.overlap === undefined ? undefined : int(values.overlap, '--overlap', 1)),
  };
  const outputPlan = await planOutput(values.output);

  const profileName = values['memory-profile'];
  if (!(profileName in MEMORY_PROFILES))
    fail(`--memory-profile accepts ${Object.keys(MEMORY_PROFILES).join(', ')}, got "${profileName}"`);
  const placement = MEMORY_PROFILES[profileName as MemoryProfileName];
  await refuseUnrunnablePack(values.model, provider);
  const loadStarted = performance.now();
  const model = await loadPusaModel(values.model, provider, {
    batchGuidance: placement.guidance === 'batched',
    textEncoder: placement.textEncoder,
    vae: placement.vae,
    vaeTiles: placement.vaeTiles,
    dit: placement.dit,
  });
  const loadMs = performance.now() - loadStarted;
  try {
    const { manifest } = model.pack;
    const size = requestedSize ?? (manifest.video.sizes[0] as [number, number]);
    const [width, height] = size;
    if (!manifest.video.sizes.some(([w, h]) => w === width && h === height))
      throw new UsageError(
        `--size: ${manifest.name} makes ${manifest.video.sizes.map(([w, h]) => `${w}x${h}`).join(', ')}; got ${width}x${height}`,
      );
    if (frameCount !== undefined && !manifest.video.frameCounts.includes(frameCount))
      throw new UsageError(
        `--frames: ${manifest.name} makes ${manifest.video.frameCounts.join(', ')} frames; got ${frameCount}`,
      );
    const images = await readImages(task, values.image ?? [], { width, height, fit });
    const clips = await readClips(task, values.clip ?? [], model, width, height);
    const input: GenerationInput = {
      task,
      prompt: values.prompt,
      ...opt('negativePrompt', values['negative-prompt']),
      ...sampling,
      seed,
      ...opt('frames', frameCount),
      size,
      images,
      clips,
    };

    const bar = values.quiet || values.json || !process.stderr.isTTY ? undefined : createBar();
    const stepMs: number[] = []; // each step's own time (the GPU benchmark reports them, docs/benchmarks.md)
    const result = await generate(model, input, {
      signal,
      onProgress: ({ step, total, elapsedMs }) => {
        stepMs.push(Math.round(elapsedMs - stepMs.reduce((a, b) => a + b, 0)));
        if (bar === undefined) return;
        if (step === 1) bar.start(total, 0, { rate: '-' });
        bar.update(step, { rate: (step / (elapsedMs / 1000)).toFixed(2) });
        if (step === total) bar.stop();
      },
    });

    const clipFps = fps ?? manifest.fps;
    const encodeStart = performance.now();
    const { mp4 } = await encodeMp4(result.video, { fps: clipFps, ...(maxBytes === undefined ? {} : { maxBytes }) });
    const encodeMs = performance.now() - encodeStart;
    const { path: output, replaced } = await writeOutput(outputPlan, `${task}-${result.parameters.seed}`, mp4);
    const latentsPath = sidecarPathFor(output);
    await writeSidecar(latentsPath, result.latents, {
      model: { name: manifest.name, version: manifest.version },
      width,
      height,
      fps: clipFps,
      task,
      prompt: values.prompt,
      seed: result.parameters.seed,
    });
    return {
      output,
      latents: latentsPath,
      seed: result.parameters.seed,
      parameters: { ...result.parameters, fps: clipFps },
      // encodeMs is the VAE's (conditioning frames); mp4Ms the file's
      timings: { loadMs: Math.round(loadMs), ...roundAll(result.timings), mp4Ms: Math.round(encodeMs) },
      stepMs,
      bytes: mp4.length,
      frames: result.video.count,
      replaced,
    };
  } finally {
    await model.release();
  }
}

async function readImages(
  task: GenerationTask,
  specs: readonly string[],
  target: { width: number; height: number; fit: FitMode },
): Promise<ConditionImage[]> {
  const expected: Partial<Record<GenerationTask, string>> = {
    i2v: '1',
    'start-end': '2',
    t2v: '0',
    extend: '0',
    transition: '0',
  };
  const count = expected[task];
  if (count !== undefined && specs.length !== Number(count)) {
    throw new UsageError(
      `${task} takes ${count === '0' ? 'no --image' : `${count} --image`}${task === 'start-end' ? ' (START then END)' : ''}, got ${specs.length}`,
    );
  }
  if (task === 'keyframes' && specs.length === 0)
    throw new UsageError('keyframes needs --image PATH@LATENT_INDEX (repeat it)');
  const images: ConditionImage[] = [];
  for (const spec of specs) {
    let path = spec;
    let latentIndex: number | undefined;
    if (task === 'keyframes') {
      const at = spec.lastIndexOf('@');
      if (at < 1) throw new UsageError(`keyframes expects --image PATH@LATENT_INDEX, got "${spec}"`);
      path = spec.slice(0, at);
      latentIndex = int(spec.slice(at + 1), '--image …@LATENT_INDEX', 0);
    }
    const image = await normalizeImage(path, target);
    images.push(latentIndex === undefined ? { rgb: image.rgb } : { rgb: image.rgb, latentIndex });
  }
  return images;
}

async function readClips(
  task: GenerationTask,
  paths: readonly string[],
  model: PusaModel,
  width: number,
  height: number,
): Promise<ClipSource[]> {
  const expected = task === 'extend' ? 1 : task === 'transition' ? 2 : 0;
  if (paths.length !== expected) {
    throw new UsageError(
      expected === 0
        ? `${task} takes no --clip`
        : `${task} takes ${expected} --clip${expected > 1 ? ' (FROM then TO)' : ''}, got ${paths.length}`,
    );
  }
  const { manifest } = model.pack;
  const clips: ClipSource[] = [];
  for (const path of paths) {
    const info = await probeClip(path);
    const frames = await decodeFrames(path, width, height, 2000);
    const sidecar = sidecarPathFor(path);
    if (existsSync(sidecar)) {
      const { header, latents } = await readSidecar(sidecar);
      if (
        header.model.name === manifest.name &&
        header.model.version === manifest.version &&
        header.width === width &&
        header.height === height
      ) {
        clips.push({ latents, frames });
        continue;
      }
      process.stderr.write(
        `pusa: ${sidecar} was made by ${header.model.name}@${header.model.version} at ${header.width}x${header.height}; re-encoding ${path} through ${manifest.name}'s VAE instead\n`,
      );
    }
    if (info.frames < 1) throw new UsageError(`${path} has no video frames`);
    clips.push({ frames });
  }
  return clips;
}

function createBar(): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'sampling |{bar}| step {value}/{total} · {rate} it/s · ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
}

export function parseSize(text: string): [number, number] {
  const match = /^(\d+)x(\d+)$/i.exec(text.trim());
  if (match === null) throw new UsageError(`--size expects WIDTHxHEIGHT such as 128x128, got "${text}"`);
  return [Number(match[1]), Number(match[2])];
}

export function int(text: string, flag: string, min: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < min)
    throw new UsageError(`${flag} expects an integer ≥ ${min}, got "${text}"`);
  return value;
}

export function num(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} expects a number, got "${text}"`);
  return value;
}

export function opt<TKey extends string, TValue>(key: TKey, value: TValue | undefined): { [K in TKey]?: TValue } {
  return (value === undefined ? {} : { [key]: value }) as { [K in TKey]?: TValue };
}

function roundAll(timings: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)]));
}

function fail(message: string): never {
  throw new UsageError(message);
}
