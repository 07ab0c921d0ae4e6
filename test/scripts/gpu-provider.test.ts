import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  diagnose,
  EP_LIBS,
  EP_ORT_VERSION,
  type GpuFacts,
  gatherFacts,
  installProvider,
  MARKER,
  type Marker,
  onnxruntimeNode,
  parseLddMissing,
  planInstall,
} from '../../scripts/gpu-provider.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pusa-gpu-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A package tarball laid out like com.github.asus4.onnxruntime.linux-x64-gpu, with small stand-in libraries. */
async function fakePackage(options: { version?: string; withShared?: boolean } = {}): Promise<string> {
  const root = join(dir, 'src');
  const libs = join(root, 'package', 'Plugins', 'Linux', 'x64');
  await mkdir(libs, { recursive: true });
  await writeFile(join(root, 'package', 'package.json'), '{"name":"com.github.asus4.onnxruntime.linux-x64-gpu"}');
  await writeFile(join(libs, EP_LIBS[0]), Buffer.from(`\x7fELF…ORT\0${options.version ?? EP_ORT_VERSION}\0…cuda`));
  if (options.withShared !== false) await writeFile(join(libs, EP_LIBS[1]), Buffer.from('\x7fELF shared'));
  const tgz = join(dir, 'ep.tgz');
  const tar = spawnSync('tar', ['-czf', tgz, '-C', root, 'package']);
  expect(tar.status).toBe(0);
  return tgz;
}

async function binDir(): Promise<string> {
  const bin = join(dir, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
  await mkdir(bin, { recursive: true });
  return bin;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('gpu:install', () => {
  it('copies both provider libraries next to the binding and records what it installed', async () => {
    const tgz = await fakePackage();
    const bin = await binDir();

    const marker = await installProvider({ binDir: bin, coreVersion: EP_ORT_VERSION, from: tgz });

    expect((await readdir(bin)).sort()).toEqual([...EP_LIBS, MARKER].sort());
    const cuda = await readFile(join(bin, EP_LIBS[0]));
    expect(cuda.includes(Buffer.from(`\0${EP_ORT_VERSION}\0`))).toBe(true);
    expect(marker.ortVersion).toBe(EP_ORT_VERSION);
    expect(marker.files[EP_LIBS[0]]).toEqual({ bytes: cuda.length, sha256: sha256(cuda) });
    expect(JSON.parse(await readFile(join(bin, MARKER), 'utf8'))).toEqual(marker);
  });

  it('refuses a provider of another ORT release than onnxruntime-node, and copies nothing', async () => {
    const tgz = await fakePackage();
    const bin = await binDir();

    await expect(installProvider({ binDir: bin, coreVersion: '1.30.0', from: tgz })).rejects.toThrow(
      /onnxruntime-node is 1\.30\.0 but .* carries ORT 1\.29\.0's CUDA provider/,
    );
    expect(await readdir(bin)).toEqual([]);
  });

  it('refuses a package whose CUDA library is not the 1.29.0 build, or that lacks a library', async () => {
    const bin = await binDir();
    await expect(
      installProvider({ binDir: bin, coreVersion: EP_ORT_VERSION, from: await fakePackage({ version: '1.28.0' }) }),
    ).rejects.toThrow(/does not carry ORT 1\.29\.0's version string/);
    await rm(join(dir, 'src'), { recursive: true });
    await expect(
      installProvider({ binDir: bin, coreVersion: EP_ORT_VERSION, from: await fakePackage({ withShared: false }) }),
    ).rejects.toThrow(/the package has no .*libonnxruntime_providers_shared\.so/);
    expect(await readdir(bin)).toEqual([]);
  });

  it('plans into the folder onnxruntime-node loads its binding from', async () => {
    const ort = onnxruntimeNode();
    const plan = planInstall({ unpacked: join(dir, 'none'), binDir: ort.binDir, coreVersion: ort.version });

    expect(ort.version).toBe(EP_ORT_VERSION);
    expect(plan.copies.map((c) => c.to)).toEqual(EP_LIBS.map((name) => join(ort.binDir, name)));
    expect((await readdir(ort.binDir)).some((f) => f.startsWith('onnxruntime_binding'))).toBe(true);
    expect(plan.problems).toHaveLength(EP_LIBS.length); // only the libraries the empty package lacks
    expect(
      planInstall({ unpacked: dir, binDir: ort.binDir, coreVersion: ort.version, platform: 'darwin', arch: 'arm64' })
        .problems[0],
    ).toBe('the CUDA provider package is built for linux-x64; this is darwin-arm64');
  });
});

const marker: Marker = {
  package: 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9',
  ortVersion: EP_ORT_VERSION,
  files: { [EP_LIBS[0]]: { bytes: 229_780_440, sha256: 'x' }, [EP_LIBS[1]]: { bytes: 14_632, sha256: 'y' } },
};
const healthy: GpuFacts = {
  platform: 'linux',
  arch: 'x64',
  binDir: '/srv/pusa/node_modules/onnxruntime-node/bin/napi-v6/linux/x64',
  coreVersion: EP_ORT_VERSION,
  libs: { [EP_LIBS[0]]: 229_780_440, [EP_LIBS[1]]: 14_632 },
  marker,
  driver: '580.159.04',
  missingLibs: [],
  libraryPath: '/usr/local/cuda-13.0/targets/x86_64-linux/lib',
};

// What ldd said here about the real libonnxruntime_providers_cuda.so of the 0.4.9 package: a host with part of a
// CUDA 13 runtime (libcudart) and no driver.
const LDD_HERE = `	linux-vdso.so.1 (0x00007f255d5e8000)
	libcublasLt.so.13 => not found
	libcublas.so.13 => not found
	libcurand.so.10 => not found
	libcudart.so.13 => /usr/local/cuda-13.0/lib/libcudart.so.13 (0x00007f254f400000)
	libcuda.so.1 => not found
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f255d5ce000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f254f000000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f255d5ea000)`;

describe('gpu:check diagnosis', () => {
  it('passes a host with the provider, a CUDA 13 driver and the libraries', () => {
    expect(diagnose(healthy)).toEqual({ ok: true, problems: [] });
  });

  it('names the driver, the CUDA 13 libraries and cuDNN, each once, from real ldd output', () => {
    const missing = parseLddMissing(LDD_HERE);
    expect(missing).toEqual(['libcublasLt.so.13', 'libcublas.so.13', 'libcurand.so.10', 'libcuda.so.1']);

    const { ok, problems } = diagnose({
      ...healthy,
      driver: null,
      missingLibs: [...missing, 'libcudnn.so.9'],
      libraryPath: '',
    });

    expect(ok).toBe(false);
    expect(problems).toEqual([
      'no NVIDIA driver (no /proc/driver/nvidia/version, nvidia-smi does not answer): install driver 580.65.06 or newer',
      'CUDA 13 runtime libraries not found: libcublasLt.so.13, libcublas.so.13, libcurand.so.10 (LD_LIBRARY_PATH is empty); ' +
        "install the CUDA 13 toolkit's libraries (e.g. cuda-libraries-13-0) and add their folder, e.g. " +
        '/usr/local/cuda-13.0/targets/x86_64-linux/lib, to LD_LIBRARY_PATH',
      'cuDNN 9 for CUDA 13 not found: libcudnn.so.9 (LD_LIBRARY_PATH is empty); install it (e.g. cudnn9-cuda-13) and add its folder to LD_LIBRARY_PATH',
    ]);
  });

  it('says to run gpu:install when the provider is absent, empty, unrecorded, of another release or damaged', () => {
    const absent = diagnose({ ...healthy, libs: { [EP_LIBS[0]]: 0, [EP_LIBS[1]]: null } });
    expect(absent.problems).toEqual([
      `the CUDA provider is not installed (${EP_LIBS.join(', ')} missing or empty in ${healthy.binDir}): run npm run gpu:install`,
    ]);
    expect(diagnose({ ...healthy, marker: null }).problems[0]).toMatch(/not installed by npm run gpu:install/);
    expect(diagnose({ ...healthy, coreVersion: '1.30.0' }).problems[0]).toBe(
      'the CUDA provider is ORT 1.29.0 but onnxruntime-node is 1.30.0: run npm run gpu:install',
    );
    expect(diagnose({ ...healthy, libs: { ...healthy.libs, [EP_LIBS[0]]: 1_000 } }).problems[0]).toMatch(
      /libonnxruntime_providers_cuda\.so is 1000 bytes, 229780440 were installed/,
    );
  });

  it('refuses a driver too old for CUDA 13 and other platforms', () => {
    expect(diagnose({ ...healthy, driver: '550.54.15' }).problems).toEqual([
      'the NVIDIA driver is 550.54.15; CUDA 13 needs 580.65.06 or newer',
    ]);
    expect(diagnose({ ...healthy, driver: '580.65.06' }).ok).toBe(true);
    expect(diagnose({ ...healthy, platform: 'darwin', arch: 'arm64' }).problems).toEqual([
      'the CUDA provider is set up for linux-x64 only; this is darwin-arm64',
    ]);
  });

  it('reads a real library folder with ldd: an ELF whose dependency is absent, and cuDNN looked up by name', async () => {
    // onnxruntime-node's binding, copied alone under the provider's name, needs libonnxruntime.so.1 that is not there
    const ort = onnxruntimeNode();
    const bin = await binDir();
    await copyFile(join(ort.binDir, 'onnxruntime_binding.node'), join(bin, EP_LIBS[0]));
    await writeFile(join(bin, EP_LIBS[1]), 'x');
    const cudnnDir = join(dir, 'cudnn');
    await mkdir(cudnnDir);

    const withoutCudnn = await gatherFacts(bin, EP_ORT_VERSION, { LD_LIBRARY_PATH: cudnnDir }, () => null);
    await writeFile(join(cudnnDir, 'libcudnn.so.9'), 'x');
    const withCudnn = await gatherFacts(bin, EP_ORT_VERSION, { LD_LIBRARY_PATH: cudnnDir }, () => '580.159.04');

    expect(withoutCudnn.missingLibs).toEqual(expect.arrayContaining(['libonnxruntime.so.1', 'libcudnn.so.9']));
    expect(withCudnn.missingLibs).toContain('libonnxruntime.so.1');
    expect(withCudnn.missingLibs).not.toContain('libcudnn.so.9');
    const problems = diagnose(withCudnn).problems;
    expect(problems).toContain('other libraries the CUDA provider needs are missing: libonnxruntime.so.1');
    expect(problems[0]).toMatch(/were not installed by npm run gpu:install/);
    expect(diagnose(withoutCudnn).problems).toContain(
      'no NVIDIA driver (no /proc/driver/nvidia/version, nvidia-smi does not answer): install driver 580.65.06 or newer',
    );
  });
});
