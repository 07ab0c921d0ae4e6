/**
 * `npm run bench [-- --model DIR --provider cpu|cuda --device-id N --threads N --json]`: where the time of one clip
 * goes — text encoding, one DiT step (guidance batched), VAE decode, MP4 encode, end to end — for the pack's default
 * clip, and how a DiT step grows with frames (and size, where the pack allows other sizes). Prints figures.
 */
import os from 'node:os';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { encodeMp4 } from '../media/mp4.ts';
import { randn, tensor } from '../sampler/index.ts';
import { generate } from '../worker/generate.ts';
import { loadPusaModel } from '../worker/runtime/model.ts';
import type { ExecutionProvider } from '../worker/runtime/sessions.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/pusa-mini' },
    provider: { type: 'string', default: 'cpu' },
    'device-id': { type: 'string', default: '0' },
    threads: { type: 'string' },
    repeats: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const provider: ExecutionProvider =
  values.provider === 'cuda'
    ? { name: 'cuda', deviceId: Number(values['device-id']) }
    : values.threads === undefined
      ? { name: 'cpu' }
      : { name: 'cpu', threads: Number(values.threads) };
const repeats = Number(values.repeats);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
async function time(fn: () => Promise<unknown>, n = repeats): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

const loadStart = performance.now();
const model = await loadPusaModel(values.model, provider);
const loadMs = performance.now() - loadStart;
const { manifest } = model.pack;
const [width, height] = manifest.video.sizes[0] as [number, number];
const { channels, spatialFactor, temporalFactor } = manifest.latent;
const h = height / spatialFactor;
const w = width / spatialFactor;
const prompt = 'a red circle moves left on a dark blue background';

const textMs = await time(async () => model.text.encode(`${prompt} ${Math.random()}`));
const positive = await model.text.encode(prompt);
const negative = await model.text.encode(manifest.defaults.negativePrompt);
const denoiser = model.denoiser(positive, negative);

const stepRows: { frames: number; latentFrames: number; tokens: number; stepMs: number; decodeMs: number }[] = [];
for (const frames of manifest.video.frameCounts) {
  const f = (frames - 1) / temporalFactor + 1;
  const dims = [1, channels, f, h, w];
  const x = tensor(randn(dims, 0), dims);
  const stepMs = await time(() =>
    denoiser.predict({
      sample: x,
      frameTimesteps: new Float32Array(f).fill(500),
      withNegative: true,
      stepIndex: 0,
      numInferenceSteps: 1,
    }),
  );
  const decodeMs = await time(() => model.vae.decode(x), Math.max(1, Math.floor(repeats / 2)));
  stepRows.push({ frames, latentFrames: f, tokens: (f * h * w) / 4, stepMs, decodeMs });
}

const e2eStart = performance.now();
const result = await generate(model, { task: 't2v', prompt });
const encodeStart = performance.now();
// A GPU host may have no ffmpeg (the worker's own encode then runs where ffmpeg is); report it as missing.
const encoded = await encodeMp4(result.video, { fps: manifest.fps }).then(
  () => true,
  () => false,
);
const encodeMs = encoded ? performance.now() - encodeStart : Number.NaN;
const e2eMs = performance.now() - e2eStart;
await model.release();

const report = {
  model: `${manifest.name}@${manifest.version}`,
  provider:
    provider.name === 'cuda'
      ? `cuda:${provider.deviceId}`
      : `cpu (${provider.threads ?? 'default'} threads, ${os.cpus().length} cores: ${os.cpus()[0]?.model ?? '?'})`,
  loadMs,
  textEncodeMs: textMs,
  defaultClip: {
    frames: manifest.video.defaultFrames,
    steps: manifest.defaults.steps,
    guidance: manifest.defaults.guidance,
    ...result.timings,
    mp4EncodeMs: encodeMs,
    endToEndMs: e2eMs,
  },
  perFrameCount: stepRows,
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  process.stdout.write(`${report.model} on ${report.provider}\n`);
  process.stdout.write(`  load ${f(loadMs)}, text encode ${f(textMs)}\n`);
  process.stdout.write(
    `  default clip (${manifest.video.defaultFrames} frames, ${manifest.defaults.steps} steps, guidance ${manifest.defaults.guidance}): sampling ${f(result.timings.sampleMs)}, VAE decode ${f(result.timings.decodeMs)}, MP4 encode ${f(encodeMs)}, end to end ${f(e2eMs)}\n`,
  );
  process.stdout.write('  frames  latent  tokens   DiT step (batch 2)   VAE decode\n');
  for (const r of stepRows)
    process.stdout.write(
      `  ${String(r.frames).padStart(6)}  ${String(r.latentFrames).padStart(6)}  ${String(r.tokens).padStart(6)}   ${f(r.stepMs).padStart(18)}   ${f(r.decodeMs).padStart(10)}\n`,
    );
}
