/**
 * The exporter's output through our runtime: `test/fixtures/wan-small-pack.tgz` was written by
 * `exporter/build_pack.py --small` from a folder in the official Wan2.1 layout (`exporter/make_fake_wan.py --small`:
 * random weights, the real DiT/VAE/umT5 architectures at reduced width, Pusa LoRA merged). It is loaded and run here
 * the way the worker runs the real 14B pack, so a pack the exporter writes is a pack the worker can serve.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelPack } from '../../pack/manifest.ts';
import { generate } from '../../worker/generate.ts';
import { loadPusaModel, type PusaModel } from '../../worker/runtime/model.ts';

const archive = join(import.meta.dirname, '..', 'fixtures', 'wan-small-pack.tgz');
let root: string;
let dir: string;
let model: PusaModel;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'wan-pack-'));
  execFileSync('tar', ['xzf', archive, '-C', root]);
  dir = join(root, 'wan-small-pack');
  model = await loadPusaModel(dir, { name: 'cpu', threads: 2 });
});

afterAll(async () => {
  await model?.release();
  rmSync(root, { recursive: true, force: true });
});

describe('a pack written by exporter/build_pack.py', () => {
  it('passes manifest validation with checksums, with the reference defaults and Wan constants', async () => {
    const pack = await loadModelPack(dir, { verifyChecksums: true });
    const m = pack.manifest;
    expect(m.defaults).toMatchObject({ steps: 30, shift: 5, guidance: 3, seed: 0 });
    expect(m.defaults.negativePrompt).toMatch(/^Bright tones, overexposed, static/);
    expect(m.defaults.noiseMultipliers.i2v).toBe(0.2);
    expect(m.defaults.noiseMultipliers.startEnd).toEqual([0.2, 0.5]);
    expect(m.latent.mean[7]).toBe(1.5508);
    expect(m.latent.std[0]).toBe(2.8184);
    expect(m.modelPrecision).toBe('bf16');
    expect(m.vaeTiling).toEqual({ tile: [30, 52], stride: [15, 26] });
    expect(m.files.dit.inputs.map((i) => i.name)).toEqual(['x', 'timestep', 'context']);
    expect(m.files.dit.inputs[0]?.shape).toEqual(['batch', 16, 'frames', 'height', 'width']);
    expect(m.files.textEncoder.outputs[0]?.shape).toEqual(['batch', m.text.maxLength, m.text.dim]);
  });

  it('encodes prompts with the umT5-layout tokenizer: rows past the prompt are exactly zero', async () => {
    const { maxLength, dim } = model.pack.manifest.text;
    const embedding = await model.text.encode('a hummingbird at red flowers');
    expect(embedding.data.length).toBe(maxLength * dim);
    expect(embedding.tokens).toBeGreaterThan(1);
    expect(embedding.tokens).toBeLessThan(maxLength);
    const past = embedding.data.subarray(embedding.tokens * dim);
    expect(past.every((v) => v === 0)).toBe(true);
    const inside = embedding.data.subarray(0, embedding.tokens * dim);
    expect(inside.some((v) => v !== 0)).toBe(true);
    expect(inside.every(Number.isFinite)).toBe(true);
  });

  it('generates t2v and i2v clips end to end (text encoder, per-frame DiT with guidance, VAE both ways)', async () => {
    const t2v = await generate(model, { task: 't2v', prompt: 'a hummingbird at red flowers', steps: 2, frames: 9 });
    expect(t2v.parameters).toMatchObject({ width: 64, height: 64, frames: 9, guidance: 3, fps: 16 });
    expect(t2v.latents.dims).toEqual([1, 16, 3, 8, 8]);
    expect(t2v.video).toMatchObject({ width: 64, height: 64, count: 9 });
    expect(t2v.video.rgb.length).toBe(9 * 64 * 64 * 3);
    expect(t2v.latents.data.every(Number.isFinite)).toBe(true);

    const rgb = new Uint8Array(96 * 64 * 3).map((_, i) => (i * 37) % 256);
    const i2v = await generate(model, {
      task: 'i2v',
      prompt: 'the same scene, moving',
      steps: 2,
      frames: 5,
      size: [96, 64],
      images: [{ rgb }],
    });
    expect(i2v.latents.dims).toEqual([1, 16, 2, 8, 12]);
    expect(i2v.video).toMatchObject({ width: 96, height: 64, count: 5 });
    expect(i2v.parameters.conditions).toEqual([{ index: 0, multiplier: 0.2 }]);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const run = (seed: number) =>
      generate(model, { task: 't2v', prompt: 'waves on a beach', steps: 2, frames: 5, seed, guidance: 1 });
    const [a, b, c] = [await run(4), await run(4), await run(5)];
    expect(Buffer.from(a.video.rgb).equals(Buffer.from(b.video.rgb))).toBe(true);
    expect(Buffer.from(a.video.rgb).equals(Buffer.from(c.video.rgb))).toBe(false);
  });
});
