import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refuseUnrunnablePack } from '../../cli/pack-check.ts';
import { loadModelPack, Manifest, ModelPackError } from '../../pack/manifest.ts';
import { WorkerConfig } from '../../worker/config.ts';
import {
  gpuComputeCapability,
  gpuTotalBytes,
  type NvidiaSmi,
  parseComputeCapability,
} from '../../worker/gpu-memory.ts';
import { refuseUnsupportedQuant } from '../../worker/runtime/quant-support.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const shipped = JSON.parse(readFileSync(join(PACK_DIR, 'manifest.json'), 'utf8'));
/** The shipped manifest with `files.<key>.quant` set for each key (or removed, for undefined). */
function withQuant(quant: unknown, keys = ['dit']): Record<string, unknown> {
  const copy = structuredClone(shipped);
  for (const key of keys) {
    if (quant === undefined) delete copy.files[key].quant;
    else copy.files[key].quant = quant;
  }
  return copy;
}
const manifestWith = (quant: 'int8' | 'int4' | 'fp8' | undefined, keys = ['dit']) =>
  Manifest.parse(withQuant(quant, keys));
const FIX =
  /: use the fp16 pack or an int8\/int4 copy of it: python3 exporter\/quantize_pack\.py --pack P --out P-int8 --quant int8$/;
const cuda = { name: 'cuda', deviceId: 1 } as const;

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('files.<graph>.quant in the manifest', () => {
  it('is optional (the shipped pack has none) and takes int8, int4 or fp8 on any graph', () => {
    expect(shipped.files.dit.quant).toBeUndefined();
    expect(Manifest.parse(shipped).files.dit.quant).toBeUndefined();
    for (const quant of ['int8', 'int4', 'fp8'] as const) expect(manifestWith(quant).files.dit.quant).toBe(quant);
    expect(manifestWith('fp8', ['textEncoder']).files.textEncoder.quant).toBe('fp8');
  });

  it.each([['fp16'], ['FP8'], ['int2'], [8], [null]])('rejects quant %j with the field named', async (quant) => {
    const result = Manifest.safeParse(withQuant(quant));
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['files.dit.quant']);
  });

  it('loads from a pack folder, and an invalid value fails the load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pusa-quant-'));
    dirs.push(dir);
    await cp(PACK_DIR, dir, { recursive: true });
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(withQuant('fp8')));
    expect((await loadModelPack(dir)).manifest.files.dit.quant).toBe('fp8');
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(withQuant('fp4')));
    await expect(loadModelPack(dir)).rejects.toBeInstanceOf(ModelPackError);
    await expect(loadModelPack(dir)).rejects.toThrow(/files\.dit\.quant: /);
  });
});

describe('refuseUnsupportedQuant', () => {
  it('refuses an fp8 DiT on the CPU provider, whatever the GPU, with the fix in one line', () => {
    const refusal = refuseUnsupportedQuant(manifestWith('fp8'), { name: 'cpu' }, 9.0);
    expect(refusal).toMatch(
      /^pusa-mini: its fp8 DiT \(files\.dit\.quant\) runs only on CUDA \(GemmFloat8, compute capability 8\.9 or newer\), not on the CPU provider/,
    );
    expect(refusal).toMatch(FIX);
    expect(refusal).not.toContain('\n');
    expect(refuseUnsupportedQuant(manifestWith('fp8'), { name: 'cpu', threads: 2 }, undefined)).toMatch(FIX);
  });

  it.each([[8.6], [8.0], [7.5]])('refuses an fp8 DiT on a CUDA GPU of capability %d, naming it', (capability) => {
    const refusal = refuseUnsupportedQuant(manifestWith('fp8'), cuda, capability);
    expect(refusal).toMatch(
      new RegExp(
        `^pusa-mini: its fp8 DiT \\(files\\.dit\\.quant\\) needs an NVIDIA GPU of compute capability 8\\.9 or newer \\(Ada, Hopper: GemmFloat8\\), and CUDA device 1 is ${capability.toFixed(1).replace('.', '\\.')}: `,
      ),
    );
    expect(refusal).toMatch(FIX);
  });

  it.each([[8.9], [9.0], [10.0], [12.0]])('lets an fp8 DiT run on CUDA capability %d', (capability) => {
    expect(refuseUnsupportedQuant(manifestWith('fp8'), cuda, capability)).toBeUndefined();
  });

  it('lets an fp8 DiT start on CUDA when the capability is unknown (the caller warns)', () => {
    expect(refuseUnsupportedQuant(manifestWith('fp8'), cuda, undefined)).toBeUndefined();
  });

  it.each([
    ['int4', 7.5],
    ['int8', 6.1],
    [undefined, 7.0],
  ] as const)('lets %s run on a GPU of capability %d and on the CPU', (quant, capability) => {
    expect(refuseUnsupportedQuant(manifestWith(quant), cuda, capability)).toBeUndefined();
    expect(refuseUnsupportedQuant(manifestWith(quant), { name: 'cpu' }, undefined)).toBeUndefined();
  });

  it('names every fp8 graph, not only the DiT', () => {
    const both = manifestWith('fp8', ['dit', 'textEncoder']);
    expect(refuseUnsupportedQuant(both, { name: 'cpu' }, undefined)).toMatch(
      /^pusa-mini: its fp8 textEncoder and DiT \(files\.textEncoder\.quant, files\.dit\.quant\) run only on CUDA/,
    );
  });
});

describe('the GPU compute capability', () => {
  const calls: (readonly string[])[] = [];
  const smi =
    (stdout: string): NvidiaSmi =>
    async (args) => {
      calls.push(args);
      return stdout;
    };
  const noSmi: NvidiaSmi = async () => {
    throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
  };

  it('is read from the first line nvidia-smi prints, and anything else is unknown', () => {
    expect(parseComputeCapability('9.0\n')).toBe(9.0);
    expect(parseComputeCapability(' 8.9 \r\n')).toBe(8.9);
    expect(parseComputeCapability('8.6\n9.0\n')).toBe(8.6);
    expect(parseComputeCapability('12.0')).toBe(12.0);
    for (const garbage of ['', '\n', '[N/A]', '[Not Supported]', 'No devices were found', '9', '9.0.1', 'v8.9', '8.9x'])
      expect(parseComputeCapability(garbage)).toBeUndefined();
  });

  it('asks nvidia-smi about the given device, and is unknown when it fails or prints garbage', async () => {
    calls.length = 0;
    expect(await gpuComputeCapability(3, undefined, smi('8.9\n'))).toBe(8.9);
    expect(calls).toEqual([['--query-gpu=compute_cap', '--format=csv,noheader', '-i', '3']]);
    expect(
      await gpuComputeCapability(0, undefined, smi('Failed to initialize NVML: Driver/library version mismatch\n')),
    ).toBeUndefined();
    expect(await gpuComputeCapability(0, undefined, noSmi)).toBeUndefined();
  });

  it('takes GPU_COMPUTE_CAPABILITY over nvidia-smi, and the config accepts only major.minor', async () => {
    calls.length = 0;
    expect(await gpuComputeCapability(0, 8.6, smi('9.0\n'))).toBe(8.6);
    expect(calls).toEqual([]);
    expect(WorkerConfig.parse({ GPU_COMPUTE_CAPABILITY: '8.9' }).GPU_COMPUTE_CAPABILITY).toBe(8.9);
    expect(WorkerConfig.parse({}).GPU_COMPUTE_CAPABILITY).toBeUndefined();
    for (const bad of ['89', '8.9.0', 'ada', ''])
      expect(WorkerConfig.safeParse({ GPU_COMPUTE_CAPABILITY: bad }).success).toBe(false);
  });

  it('leaves the memory query as it was: MiB from nvidia-smi, unknown on failure, the override first', async () => {
    calls.length = 0;
    expect(await gpuTotalBytes(2, undefined, smi('81559\n'))).toBe(81_559 * 2 ** 20);
    expect(calls).toEqual([['--query-gpu=memory.total', '--format=csv,noheader,nounits', '-i', '2']]);
    expect(await gpuTotalBytes(0, undefined, smi('[N/A]\n'))).toBeUndefined();
    expect(await gpuTotalBytes(0, undefined, noSmi)).toBeUndefined();
    expect(await gpuTotalBytes(0, 24, noSmi)).toBe(24 * 2 ** 30);
  });
});

describe('the CLI before it loads a pack', () => {
  let fp8: string;
  beforeAll(async () => {
    fp8 = await mkdtemp(join(tmpdir(), 'pusa-fp8-cli-'));
    dirs.push(fp8);
    await cp(PACK_DIR, fp8, { recursive: true });
    const manifest = JSON.parse(await readFile(join(fp8, 'manifest.json'), 'utf8'));
    manifest.files.dit.quant = 'fp8';
    await writeFile(join(fp8, 'manifest.json'), JSON.stringify(manifest));
  });
  const warnings: string[] = [];
  const warn = (line: string) => warnings.push(line);
  const answers =
    (stdout: string): NvidiaSmi =>
    async () =>
      stdout;
  const fails: NvidiaSmi = async () => {
    throw new Error('spawn nvidia-smi ENOENT');
  };

  it('refuses an fp8 pack on --provider cpu and on a pre-Ada GPU with a ModelPackError (pusa: …, exit 2)', async () => {
    await expect(refuseUnrunnablePack(fp8, { name: 'cpu' }, warn, fails)).rejects.toBeInstanceOf(ModelPackError);
    await expect(refuseUnrunnablePack(fp8, { name: 'cpu' }, warn, fails)).rejects.toThrow(FIX);
    await expect(refuseUnrunnablePack(fp8, { name: 'cuda', deviceId: 0 }, warn, answers('8.6\n'))).rejects.toThrow(
      /CUDA device 0 is 8\.6: use the fp16 pack/,
    );
    expect(warnings).toEqual([]);
  });

  it('lets an fp8 pack load on Ada or newer, warns when nvidia-smi cannot say, and ignores other packs', async () => {
    await expect(
      refuseUnrunnablePack(fp8, { name: 'cuda', deviceId: 0 }, warn, answers('8.9\n')),
    ).resolves.toBeUndefined();
    expect(warnings).toEqual([]);
    await expect(refuseUnrunnablePack(fp8, { name: 'cuda', deviceId: 0 }, warn, fails)).resolves.toBeUndefined();
    expect(warnings).toEqual(['nvidia-smi did not answer: loading the fp8 pack without the compute capability check']);
    const asked: string[] = [];
    await expect(
      refuseUnrunnablePack(PACK_DIR, { name: 'cuda', deviceId: 0 }, warn, async () => {
        asked.push('smi');
        return '7.5\n';
      }),
    ).resolves.toBeUndefined();
    await expect(refuseUnrunnablePack(PACK_DIR, { name: 'cpu' }, warn, fails)).resolves.toBeUndefined();
    expect(asked).toEqual([]);
  });
});
