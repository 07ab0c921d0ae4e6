import { spawn } from 'node:child_process';
import { cp, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelPack } from '../../pack/manifest.ts';
import { randn, tensor } from '../../sampler/index.ts';
import { estimateGpuMemory, MEMORY_PROFILES, refuseIfTooBig } from '../../worker/runtime/memory-profile.ts';
import { loadPusaModel } from '../../worker/runtime/model.ts';
import { createModelSession } from '../../worker/runtime/sessions.ts';
import { createStagedSession } from '../../worker/runtime/staged-session.ts';
import { effectiveVaeTiling, REFERENCE_VAE_TILING } from '../../worker/runtime/vae-tiles.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const GIB = 2 ** 30;
const root = new URL('../..', import.meta.url).pathname;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/**
 * pusa-mini with the full-size pack's weight files in place (sparse files of the real 14B pack's sizes: no disk
 * used) and its sizes and frame counts, so the estimate sees what a real worker would.
 */
async function fullSizePack(ditGib: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pusa-fit-'));
  dirs.push(dir);
  await cp(PACK_DIR, dir, { recursive: true });
  const sparse = async (file: string, bytes: number) => {
    const handle = await open(join(dir, file), 'w');
    await handle.truncate(Math.round(bytes));
    await handle.close();
  };
  await sparse('dit.onnx.data', ditGib * GIB);
  await sparse('text_encoder.onnx.data', 11.4e9);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  manifest.video.sizes = [
    [832, 480],
    [1280, 720],
  ];
  manifest.video.frameCounts = [33, 81];
  // the real model's decoder: any height and width (so it can take tiles)
  manifest.files.vaeDecoder.inputs[0].shape = [1, 16, 'frames', 'lh', 'lw'];
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('staged sessions', () => {
  it('open on first use inside a stage, stay open for overlapping stages, and are released after the last', async () => {
    const pack = await loadModelPack(PACK_DIR);
    let released = 0;
    const session = createStagedSession('vaeDecoder', async () => {
      const real = await createModelSession('vaeDecoder', pack.paths.vaeDecoder, pack.manifest.files.vaeDecoder, {
        name: 'cpu',
      });
      return {
        ...real,
        release: async () => {
          released += 1;
          await real.release();
        },
      };
    });
    const { channels } = pack.manifest.latent;
    const dims = [1, channels, 1, 16, 16];
    const feeds = { latents: { data: randn(dims, 3), dims } };

    await expect(session.run(feeds)).rejects.toThrow(/outside a stage/);
    const [a, b] = await Promise.all([
      session.stage(() => session.run(feeds)),
      session.stage(() => session.run(feeds)),
    ]);
    expect(session.opened).toBe(1);
    expect(released).toBe(1);
    expect(a['video']?.data).toEqual(b['video']?.data);
    await session.stage(() => session.run(feeds));
    expect([session.opened, released]).toEqual([2, 2]);
  });

  it('give the same clip as resident sessions, with the text encoder on the CPU', async () => {
    const resident = await loadPusaModel(PACK_DIR);
    const staged = await loadPusaModel(PACK_DIR, { name: 'cpu' }, { textEncoder: 'gpu-staged', vae: 'staged' });
    try {
      const { channels } = resident.pack.manifest.latent;
      const dims = [1, channels, 2, 16, 16];
      const latents = tensor(randn(dims, 5), dims);
      const [want, got] = [await resident.vae.decode(latents), await staged.vae.decode(latents)];
      expect(got.dims).toEqual(want.dims);
      expect(got.data).toEqual(want.data);
      const image = tensor(
        randn([1, 3, 1, 128, 128], 6).map((v) => Math.tanh(v)),
        [1, 3, 1, 128, 128],
      );
      expect((await staged.vae.encode(image)).data).toEqual((await resident.vae.encode(image)).data);
      expect((await staged.text.encode('a hummingbird')).data).toEqual(
        (await resident.text.encode('a hummingbird')).data,
      );
    } finally {
      await Promise.all([resident.release(), staged.release()]);
    }
  });

  it('open a staged DiT only for a sampling, with the same predictions as a resident one', async () => {
    const resident = await loadPusaModel(PACK_DIR);
    const staged = await loadPusaModel(PACK_DIR, { name: 'cpu' }, { dit: 'staged' });
    try {
      const { channels } = resident.pack.manifest.latent;
      const dims = [1, channels, 2, 16, 16];
      const input = {
        sample: tensor(randn(dims, 7), dims),
        frameTimesteps: new Float32Array([0, 700]),
        withNegative: true,
        stepIndex: 0,
        numInferenceSteps: 1,
      };
      const [pos, neg] = [await resident.text.encode('a red ball'), await resident.text.encode('')];
      const want = await resident.sampling(() => resident.denoiser(pos, neg).predict(input));
      const got = await staged.sampling(() => staged.denoiser(pos, neg).predict(input));
      expect(got.positive).toEqual(want.positive);
      expect(got.negative).toEqual(want.negative);
      // outside a sampling the staged DiT is closed: a prediction there is refused, not run on a leaked session
      await expect(staged.denoiser(pos, neg).predict(input)).rejects.toThrow(/outside a stage/);
    } finally {
      await Promise.all([resident.release(), staged.release()]);
    }
  });

  it('still refuse a pack whose graph does not match its manifest at load, not mid-job', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-lie-'));
    dirs.push(dir);
    await cp(PACK_DIR, dir, { recursive: true });
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    manifest.files.vaeDecoder.inputs[0].name = 'z';
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));

    await expect(loadPusaModel(dir, { name: 'cpu' }, { vae: 'staged' })).rejects.toThrow(/does not match its manifest/);
  });
});

describe('memory profiles', () => {
  let fp16: string;
  let int4: string;
  beforeAll(async () => {
    [fp16, int4] = [await fullSizePack(26.6), await fullSizePack(6.9)];
  });

  it('estimate less for each smaller profile, and name what makes up the peak', async () => {
    const pack = await loadModelPack(fp16);
    const [huge, big, mid, small] = (['141gb', '80gb', '48gb', '24gb'] as const).map((p) =>
      estimateGpuMemory(pack, MEMORY_PROFILES[p]),
    );
    expect(big?.size).toEqual([1280, 720]);
    expect(big?.frames).toBe(81);
    expect(big?.parts['DiT weights']).toBeCloseTo(26.6, 1);
    expect(big?.parts['text encoder']).toBeCloseTo(10.6, 1);
    expect(mid?.parts['text encoder']).toBeUndefined();
    expect((huge?.peakBytes ?? 0) > (big?.peakBytes ?? 0)).toBe(true);
    expect((big?.peakBytes ?? 0) > (mid?.peakBytes ?? 0)).toBe(true);
    expect((mid?.peakBytes ?? 0) >= (small?.peakBytes ?? 0)).toBe(true);
    // 720p: 75,600 tokens at the measured 0.36 MiB per token and batch entry; batched guidance holds two
    expect(big?.parts['DiT activations']).toBeCloseTo((2 * 75_600 * 0.36) / 1024, 0);
    // the staged DiT (48gb): its weights and one batch entry's activations are the largest stage
    expect(mid?.parts['largest stage: DiT weights + activations (staged)']).toBeCloseTo(
      26.6 + (75_600 * 0.36) / 1024,
      0,
    );
  });

  it('bound the VAE decode by the reference tiles up to 80gb, and decode whole frames in 141gb', async () => {
    const pack = await loadModelPack(fp16);
    expect(effectiveVaeTiling(pack.manifest, MEMORY_PROFILES['141gb'].vaeTiles)).toBeUndefined();
    expect(effectiveVaeTiling(pack.manifest, MEMORY_PROFILES['80gb'].vaeTiles)).toEqual(REFERENCE_VAE_TILING);
    expect(effectiveVaeTiling(pack.manifest, MEMORY_PROFILES['24gb'].vaeTiles)).toEqual(REFERENCE_VAE_TILING);
    const resident = { ...MEMORY_PROFILES['24gb'], vae: 'resident' } as const;
    const whole = estimateGpuMemory(pack, { ...resident, vaeTiles: 'pack' });
    const tiled = estimateGpuMemory(pack, resident);
    // at 1280×720 a 240×416 tile is 0.108 of the frame: the VAE's share of the peak falls with it
    expect((tiled.parts['VAE'] ?? 0) / (whole.parts['VAE'] ?? 1)).toBeCloseTo((240 * 416) / (720 * 1280), 1);
    // a decoder with a fixed size cannot take a tile: pusa-mini decodes whole whatever the profile says
    const mini = await loadModelPack(PACK_DIR);
    expect(effectiveVaeTiling(mini.manifest, 'reference')).toBeUndefined();
  });

  it('count one stage at a time when the DiT is staged: the peak is the largest stage, not the sum', async () => {
    const pack = await loadModelPack(int4);
    const staged = estimateGpuMemory(pack, MEMORY_PROFILES['24gb']);
    const resident = estimateGpuMemory(pack, { ...MEMORY_PROFILES['24gb'], dit: 'resident' });
    expect(staged.parts['DiT weights']).toBeUndefined();
    expect(Object.keys(staged.parts)).toContain('largest stage: DiT weights + activations (staged)');
    // resident: the DiT's arena stays at its peak under the VAE's decode, so the decode adds to it
    expect(resident.peakBytes - staged.peakBytes).toBeGreaterThan(GIB);
    expect(resident.parts['largest stage: text encoder (staged)']).toBeGreaterThan(10);
  });

  it('refuse a profile that cannot fit with the fix in one line, and accept one that fits', async () => {
    const pack = await loadModelPack(fp16);
    const refusal = refuseIfTooBig(pack, '80gb', MEMORY_PROFILES['80gb'], 80 * GIB);
    expect(refusal).toMatch(
      /^MEMORY_PROFILE=80gb needs about \d+\.\d GiB .* for 1280×720, 81 frames .* but the GPU has 80\.0 GiB: /,
    );
    expect(refusal).not.toContain('\n');
    expect(refuseIfTooBig(pack, '80gb', MEMORY_PROFILES['80gb'], 200 * GIB)).toBeUndefined();
    // nothing fits a 24 GB card with the fp16 DiT: the fix is the smaller DiT
    expect(refuseIfTooBig(pack, '24gb', MEMORY_PROFILES['24gb'], 24 * GIB)).toMatch(/--quant int4/);
    // a smaller profile that fits is named when there is one
    const fitsMid = estimateGpuMemory(pack, MEMORY_PROFILES['48gb']).peakBytes + GIB;
    expect(refuseIfTooBig(pack, '80gb', MEMORY_PROFILES['80gb'], fitsMid)).toMatch(/set MEMORY_PROFILE=48gb$/);
    const small = await loadModelPack(int4);
    expect(estimateGpuMemory(small, { ...MEMORY_PROFILES['24gb'], dit: 'resident' }).parts['DiT weights']).toBeCloseTo(
      6.9,
      1,
    );
  });

  it('make a CUDA worker exit before loading any model, with the one-line fix, when the pack does not fit', async () => {
    const { code, output } = await startWorker({
      MODEL_DIR: fp16,
      EXECUTION_PROVIDER: 'cuda',
      MEMORY_PROFILE: '80gb',
      GPU_MEMORY_GIB: '24',
    });

    expect(code).toBe(1);
    expect(output).toMatch(
      /worker: MEMORY_PROFILE=80gb needs about .* but the GPU has 24\.0 GiB: build the pack with a smaller DiT/,
    );
    expect(output).not.toMatch(/model loaded|cannot load/);
  });
});

describe('an fp8 pack', () => {
  let fp8: string;
  beforeAll(async () => {
    fp8 = await mkdtemp(join(tmpdir(), 'pusa-fp8-'));
    dirs.push(fp8);
    await cp(PACK_DIR, fp8, { recursive: true });
    const manifest = JSON.parse(await readFile(join(fp8, 'manifest.json'), 'utf8'));
    manifest.files.dit.quant = 'fp8';
    await writeFile(join(fp8, 'manifest.json'), JSON.stringify(manifest));
  });

  it('makes a CPU worker exit before loading any model, with the one-line fix', async () => {
    const { code, output } = await startWorker({ MODEL_DIR: fp8, EXECUTION_PROVIDER: 'cpu' });

    expect(code).toBe(1);
    expect(output).toMatch(
      /worker: pusa-mini: its fp8 DiT \(files\.dit\.quant\) runs only on CUDA \(GemmFloat8, compute capability 8\.9 or newer\), not on the CPU provider: use the fp16 pack or an int8\/int4 copy of it: python3 exporter\/quantize_pack\.py --pack P --out P-int8 --quant int8\n/,
    );
    expect(output).not.toMatch(/model loaded|cannot load/);
  });

  it('makes a CUDA worker on a GPU older than Ada exit before loading any model (before the memory check)', async () => {
    const { code, output } = await startWorker({
      MODEL_DIR: fp8,
      EXECUTION_PROVIDER: 'cuda',
      GPU_COMPUTE_CAPABILITY: '8.6',
      GPU_MEMORY_GIB: '1',
    });

    expect(code).toBe(1);
    expect(output).toMatch(
      /worker: pusa-mini: its fp8 DiT \(files\.dit\.quant\) needs an NVIDIA GPU of compute capability 8\.9 or newer .* and CUDA device 0 is 8\.6: use the fp16 pack/,
    );
    expect(output).not.toMatch(/MEMORY_PROFILE=|model loaded|cannot load/);
  });
});

/** Starts worker/main.ts with this environment on top of the test's; its exit code and everything it wrote. */
async function startWorker(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: root,
    env: { ...process.env, WORKER_HEALTH_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}
