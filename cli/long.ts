import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { drawSeed } from '../bot/core/seed.ts';
import { planLong } from '../commands/index.ts';
import { joinClips } from '../media/concat.ts';
import { type FitMode, normalizeImage } from '../media/image.ts';
import { encodeMp4 } from '../media/mp4.ts';
import { sidecarPathFor, writeSidecar } from '../media/sidecar.ts';
import type { Tensor } from '../sampler/index.ts';
import { type GenerationInput, generate } from '../worker/generate.ts';
import { loadPusaModel } from '../worker/runtime/model.ts';
import type { ExecutionProvider } from '../worker/runtime/sessions.ts';
import { DEFAULT_MODEL_DIR, int, num, opt, parseSize } from './generate.ts';
import { planOutput, writeOutput } from './output-path.ts';
import { refuseUnrunnablePack } from './pack-check.ts';
import { UsageError } from './usage-error.ts';

const OPTIONS = {
  model: { type: 'string', default: DEFAULT_MODEL_DIR },
  prompt: { type: 'string', multiple: true },
  storyboard: { type: 'string' },
  seconds: { type: 'string' },
  segments: { type: 'string' },
  image: { type: 'string' },
  'negative-prompt': { type: 'string' },
  steps: { type: 'string' },
  cfg: { type: 'string' },
  seed: { type: 'string' },
  frames: { type: 'string' },
  overlap: { type: 'string' },
  size: { type: 'string' },
  fit: { type: 'string', default: 'crop' },
  'max-bytes': { type: 'string' },
  output: { type: 'string' },
  provider: { type: 'string', default: 'cpu' },
  'device-id': { type: 'string', default: '0' },
  threads: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

export interface LongCliResult {
  output: string;
  latents: string;
  seed: number;
  segments: number;
  frames: number;
  bytes: number;
  prompts: string[];
  seconds: number;
}

/**
 * `pusa long …`: the /long chain in one process, with the service's rules (commands/long.ts planLong; up to 60 s):
 * segment 1 from the prompt (and `--image`), each later one an extend from the exact latents of the one before,
 * joined without the frames each segment repeats (media/concat.ts, the bot's join). The last segment's latents go
 * beside the MP4, so `pusa extend --clip` continues the long clip exactly.
 */
export async function runLong(args: readonly string[], signal: AbortSignal): Promise<LongCliResult> {
  const { values } = parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: false });
  const provider: ExecutionProvider =
    values.provider === 'cuda'
      ? { name: 'cuda', deviceId: int(values['device-id'], '--device-id', 0) }
      : values.threads === undefined
        ? { name: 'cpu' }
        : { name: 'cpu', threads: int(values.threads, '--threads', 1) };
  const fit = values.fit as FitMode;
  if (!['crop', 'letterbox', 'stretch'].includes(fit))
    throw new UsageError(`--fit accepts crop, letterbox or stretch, got "${values.fit}"`);
  const prompts = values.prompt ?? [];
  if (values.storyboard !== undefined && prompts.length > 0)
    throw new UsageError('give --storyboard FILE or --prompt, not both');
  // One --prompt: every segment; several (or a storyboard file, one prompt a line): a prompt per segment.
  const storyboard =
    values.storyboard !== undefined
      ? (await readFile(values.storyboard, 'utf8')).split('\n').filter((line) => line.trim() !== '')
      : prompts.length > 1
        ? prompts
        : undefined;
  const seed = values.seed === undefined ? drawSeed() : int(values.seed, '--seed', 0);
  const maxBytes = values['max-bytes'] === undefined ? undefined : int(values['max-bytes'], '--max-bytes', 1);
  const outputPlan = await planOutput(values.output);

  await refuseUnrunnablePack(values.model, provider);
  const model = await loadPusaModel(values.model, provider);
  try {
    const { manifest } = model.pack;
    const planned = planLong(
      {
        ...(storyboard === undefined ? opt('prompt', prompts[0]) : { storyboard }),
        ...opt('seconds', values.seconds === undefined ? undefined : num(values.seconds, '--seconds')),
        ...opt('segments', values.segments === undefined ? undefined : int(values.segments, '--segments', 1)),
        ...opt('segmentFrames', values.frames === undefined ? undefined : int(values.frames, '--frames', 1)),
        ...opt('overlap', values.overlap === undefined ? undefined : int(values.overlap, '--overlap', 1)),
      },
      {
        fps: manifest.fps,
        frameCounts: manifest.video.frameCounts,
        defaultFrames: manifest.video.defaultFrames,
        temporalFactor: manifest.latent.temporalFactor,
        defaultOverlap: manifest.defaults.noiseMultipliers.extend.frames,
      },
      // Only the 60 s cap here: the segments-per-request limit is the bot operators'.
      Number.MAX_SAFE_INTEGER,
    );
    if (!planned.ok) throw new UsageError(planned.error.message);
    const plan = planned.value;
    const size = values.size === undefined ? (manifest.video.sizes[0] as [number, number]) : parseSize(values.size);
    const image =
      values.image === undefined
        ? undefined
        : (await normalizeImage(values.image, { width: size[0], height: size[1], fit })).rgb;
    const sampling = {
      ...opt('negativePrompt', values['negative-prompt']),
      ...opt('steps', values.steps === undefined ? undefined : int(values.steps, '--steps', 1)),
      ...opt('guidance', values.cfg === undefined ? undefined : num(values.cfg, '--cfg')),
    };

    const parts: { mp4: Uint8Array; skipFrames: number }[] = [];
    let previous: Tensor | undefined;
    for (const [i, prompt] of plan.prompts.entries()) {
      const input: GenerationInput = {
        ...sampling,
        prompt,
        seed: (seed + i) % 2 ** 32,
        frames: plan.segmentFrames,
        size,
        ...(previous !== undefined
          ? { task: 'extend', clips: [{ latents: previous }], overlap: plan.overlap }
          : image !== undefined
            ? { task: 'i2v', images: [{ rgb: image }] }
            : { task: 't2v' }),
      };
      const started = performance.now();
      const result = await generate(model, input, { signal });
      previous = result.latents;
      // Each segment at the best quality: the join is what gets fitted to --max-bytes.
      parts.push({
        mp4: (await encodeMp4(result.video, { fps: manifest.fps })).mp4,
        skipFrames: i === 0 ? 0 : plan.repeatedFrames,
      });
      if (!values.quiet && !values.json)
        process.stderr.write(
          `segment ${i + 1}/${plan.segments} in ${((performance.now() - started) / 1000).toFixed(1)} s: ${prompt}\n`,
        );
    }
    const { mp4 } = await joinClips(parts, { fps: manifest.fps, ...(maxBytes === undefined ? {} : { maxBytes }) });
    const { path: output } = await writeOutput(outputPlan, `long-${seed}`, mp4);
    const latents = sidecarPathFor(output);
    await writeSidecar(latents, previous as Tensor, {
      model: { name: manifest.name, version: manifest.version },
      width: size[0],
      height: size[1],
      fps: manifest.fps,
      task: 'extend',
      prompt: plan.prompts.at(-1) as string,
      seed: (seed + plan.segments - 1) % 2 ** 32,
    });
    return {
      output,
      latents,
      seed,
      segments: plan.segments,
      frames: plan.totalFrames,
      bytes: mp4.length,
      prompts: [...plan.prompts],
      seconds: plan.seconds,
    };
  } finally {
    await model.release();
  }
}
