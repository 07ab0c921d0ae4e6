import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelPack, ModelPackError } from '../../pack/manifest.ts';
import { randn, tensor } from '../../sampler/index.ts';
import { loadPusaModel, type PusaModel } from '../../worker/runtime/model.ts';
import { createOnnxDenoiser } from '../../worker/runtime/onnx-denoiser.ts';
import { createModelSession, ModelRunError } from '../../worker/runtime/sessions.ts';
import { PACK_DIR } from '../helpers/pack.ts';

let model: PusaModel;
beforeAll(async () => {
  model = await loadPusaModel(PACK_DIR);
});
afterAll(async () => {
  await model.release();
});

async function brokenPack(edit: (manifest: Record<string, unknown>) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pusa-pack-'));
  await cp(PACK_DIR, dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  edit(manifest);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('loadModelPack', () => {
  it('validates the shipped pack, its files and checksums', async () => {
    const pack = await loadModelPack(PACK_DIR, { verifyChecksums: true });

    expect(pack.manifest.format).toBe('pusa-model-pack');
    expect(pack.manifest.latent.mean).toHaveLength(pack.manifest.latent.channels);
  });

  it.each([
    ['a missing field', (m: Record<string, unknown>) => delete m['fps'], /fps: /],
    [
      'a wrong type',
      (m: Record<string, unknown>) => ((m['latent'] as Record<string, unknown>)['channels'] = 'sixteen'),
      /latent\.channels: /,
    ],
    [
      'a frame count the VAE cannot make',
      (m: Record<string, unknown>) => ((m['video'] as Record<string, unknown>)['frameCounts'] = [18]),
      /video\.frameCounts\.0: frame counts must be 1 \+ 4k/,
    ],
    [
      'a missing ONNX file',
      (m: Record<string, unknown>) =>
        (((m['files'] as Record<string, Record<string, unknown>>)['dit'] as Record<string, unknown>)['path'] =
          'gone.onnx'),
      /gone\.onnx \(files\.dit\.path\) is missing/,
    ],
  ])('names the field of %s', async (_label, edit, message) => {
    const dir = await brokenPack(edit);

    await expect(loadModelPack(dir)).rejects.toBeInstanceOf(ModelPackError);
    await expect(loadModelPack(dir)).rejects.toThrow(message);
    await rm(dir, { recursive: true, force: true });
  });

  it('says when there is no manifest at all', async () => {
    await expect(loadModelPack(tmpdir())).rejects.toThrow(/cannot read model pack manifest .*: not found/);
  });
});

describe('model sessions', () => {
  it('refuse inputs of the wrong shape or type before onnxruntime sees them, with a summary', async () => {
    const { manifest, paths } = model.pack;
    const session = await createModelSession('dit', paths.dit, manifest.files.dit, { name: 'cpu' });

    const run = session.run({
      x: { data: new Float32Array(4), dims: [1, 4] },
      timestep: { data: new BigInt64Array(1), dims: [1, 1] },
    });

    await expect(run).rejects.toBeInstanceOf(ModelRunError);
    await expect(run).rejects.toThrow(
      /"x" must have rank 5 .*"timestep" must be float32, got int64.*missing input "context".*inputs: x: float32\[1, 4\]/s,
    );
    await session.release();
  });

  it('encodes prompts with zero rows past the prompt and caches them', async () => {
    const { maxLength, dim } = model.pack.manifest.text;

    const a = await model.text.encode('a red circle moves left on a black background');
    const b = await model.text.encode('a red circle moves left on a black background');

    expect(a).toBe(b);
    expect(a.tokens).toBeGreaterThan(5);
    expect(a.tokens).toBeLessThan(maxLength);
    const row = (r: number) => a.data.subarray(r * dim, (r + 1) * dim);
    expect(row(0).some((v) => v !== 0)).toBe(true);
    expect(row(maxLength - 1).every((v) => v === 0)).toBe(true);
  });

  it('encodes words the vocabulary does not know as the unknown token instead of failing', async () => {
    const known = await model.text.encode('a red circle');
    const unknown = await model.text.encode('a zebra playing the xylophone');

    expect(unknown.tokens).toBe(6);
    expect(unknown.data.some((v) => v !== 0)).toBe(true);
    expect(unknown.data).not.toEqual(known.data);
  });

  it('gives the same guided prediction batched (one call) and unbatched (two calls)', async () => {
    const { manifest } = model.pack;
    const { channels } = manifest.latent;
    const dims = [1, channels, 5, 16, 16];
    const x = tensor(randn(dims, 1), dims);
    const pos = await model.text.encode('a green star moves up on a gray background');
    const neg = await model.text.encode(manifest.defaults.negativePrompt);
    const session = await createModelSession('dit', model.pack.paths.dit, manifest.files.dit, { name: 'cpu' });
    const options = {
      dit: session,
      positive: pos.data,
      negative: neg.data,
      textLength: manifest.text.maxLength,
      textDim: manifest.text.dim,
    };
    const input = {
      sample: x,
      frameTimesteps: Float32Array.from([0, 300, 600, 900, 1000]),
      withNegative: true,
      stepIndex: 0,
      numInferenceSteps: 1,
    };

    const batched = await createOnnxDenoiser({ ...options, batchGuidance: true }).predict(input);
    const separate = await createOnnxDenoiser({ ...options, batchGuidance: false }).predict(input);

    let worst = 0;
    for (let i = 0; i < batched.positive.length; i++)
      worst = Math.max(
        worst,
        Math.abs(batched.positive[i]! - separate.positive[i]!),
        Math.abs(batched.negative![i]! - separate.negative![i]!),
      );
    expect(worst).toBeLessThan(1e-4);
    expect(batched.positive).not.toEqual(batched.negative);
    await session.release();
  });

  it('round-trips a frame through the VAE with the pack normalisation', async () => {
    const { width, height } = { width: 128, height: 128 };
    const video = new Float32Array(3 * width * height).fill(-0.9);
    for (let y = 40; y < 88; y++) for (let x = 40; x < 88; x++) video[y * width + x] = 0.8;

    const latents = await model.vae.encode(tensor(video, [1, 3, 1, height, width]));
    const back = await model.vae.decode(latents);

    expect(latents.dims).toEqual([1, model.pack.manifest.latent.channels, 1, 16, 16]);
    expect(back.dims).toEqual([1, 3, 1, 128, 128]);
    let se = 0;
    for (let i = 0; i < video.length; i++) se += (back.data[i]! - video[i]!) ** 2;
    const psnr = 10 * Math.log10(4 / (se / video.length));
    expect(psnr).toBeGreaterThan(25);
  });
});
