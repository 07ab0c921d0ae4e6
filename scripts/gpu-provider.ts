import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import process from 'node:process';

/**
 * onnxruntime-node ships only its CPU build through npm; its install script fetches the CUDA provider from outside
 * the npm registry (skipped by .npmrc). The official ORT 1.29.0 CUDA 13 provider libraries are also on the npm
 * registry, repackaged for Unity by asus4/onnxruntime-unity (checked on an H100 and an H200: ../shared/gpu/README.md).
 * This file knows where they come from, where onnxruntime-node looks for them, and what they need from the host.
 */
export const EP_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu';
export const EP_PACKAGE_VERSION = '0.4.9';
/** The ORT release those libraries were built from; the provider must equal onnxruntime-node's core version. */
export const EP_ORT_VERSION = '1.29.0';
const EP_LIB_DIR = join('package', 'Plugins', 'Linux', 'x64');
export const EP_LIBS = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'] as const;
/** Written beside the libraries by the installer: what was installed, for gpu:check. */
export const MARKER = 'pusa-cuda-provider.json';
/** CUDA 13.0's minimum Linux driver (NVIDIA's CUDA 13.0 release notes, table 3). */
export const MIN_DRIVER = '580.65.06';
/** Loaded with dlopen by the CUDA provider at session creation, so ldd does not list it. */
const CUDNN = 'libcudnn.so.9';

export interface Marker {
  readonly package: string;
  readonly ortVersion: string;
  readonly files: Record<string, { bytes: number; sha256: string }>;
}

/** onnxruntime-node's package folder and the folder its native binding loads providers from. */
export function onnxruntimeNode(): { dir: string; version: string; binDir: string } {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('onnxruntime-node/package.json');
  const dir = dirname(manifest);
  const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  return { dir, version, binDir: join(dir, 'bin', 'napi-v6', process.platform, process.arch) };
}

// ------------------------------------------------------------------------------------------------------ install

export interface InstallPlan {
  readonly copies: ReadonlyArray<{ from: string; to: string }>;
  readonly problems: readonly string[];
}

/** What installing from an unpacked provider package means here, and what stands in the way; copies nothing. */
export function planInstall(opts: {
  unpacked: string;
  binDir: string;
  coreVersion: string;
  platform?: string;
  arch?: string;
}): InstallPlan {
  const problems: string[] = [];
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  if (platform !== 'linux' || arch !== 'x64')
    problems.push(`the CUDA provider package is built for linux-x64; this is ${platform}-${arch}`);
  if (opts.coreVersion !== EP_ORT_VERSION)
    problems.push(
      `onnxruntime-node is ${opts.coreVersion} but ${EP_PACKAGE}@${EP_PACKAGE_VERSION} carries ORT ${EP_ORT_VERSION}'s ` +
        `CUDA provider; they must be the same release (keep onnxruntime-node at ${EP_ORT_VERSION})`,
    );
  if (!existsSync(opts.binDir)) problems.push(`onnxruntime-node has no ${opts.binDir} (npm install first)`);
  const copies = EP_LIBS.map((name) => ({ from: join(opts.unpacked, EP_LIB_DIR, name), to: join(opts.binDir, name) }));
  for (const { from } of copies) {
    if (!existsSync(from)) problems.push(`the package has no ${from.slice(opts.unpacked.length + 1)}`);
    else if (statSync(from).size === 0) problems.push(`${from} is empty (an interrupted download?)`);
  }
  return { copies, problems };
}

/**
 * Fetches the provider package with npm (the registry npm is configured for) unless `from` names a .tgz already
 * fetched, unpacks it, checks it and copies the two libraries next to onnxruntime-node's binding. Each library is
 * copied to a temporary name and renamed, so an interrupted install never leaves a truncated library that later
 * runs would trust. Returns the marker it wrote.
 */
export async function installProvider(opts: {
  binDir: string;
  coreVersion: string;
  from?: string;
  log?: (line: string) => void;
}): Promise<Marker> {
  const log = opts.log ?? (() => undefined);
  const work = await mkdtemp(join(tmpdir(), 'pusa-gpu-'));
  try {
    let tarball = opts.from;
    if (tarball === undefined) {
      log(`fetching ${EP_PACKAGE}@${EP_PACKAGE_VERSION} from the npm registry (about 180 MB)…`);
      const pack = spawnSync('npm', ['pack', '--silent', `${EP_PACKAGE}@${EP_PACKAGE_VERSION}`], {
        cwd: work,
        encoding: 'utf8',
      });
      if (pack.status !== 0)
        throw new Error(`npm pack ${EP_PACKAGE}@${EP_PACKAGE_VERSION} failed: ${(pack.stderr || pack.stdout).trim()}`);
      tarball = join(work, pack.stdout.trim().split('\n').pop() ?? '');
    }
    const untar = spawnSync('tar', ['-xzf', tarball, '-C', work], { encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`cannot unpack ${tarball}: ${untar.stderr.trim()}`);

    const plan = planInstall({ unpacked: work, binDir: opts.binDir, coreVersion: opts.coreVersion });
    if (plan.problems.length > 0)
      throw new Error(`cannot install the CUDA provider:\n  - ${plan.problems.join('\n  - ')}`);
    const cuda = plan.copies.find((c) => c.to.endsWith(EP_LIBS[0]));
    if (cuda && !(await readFile(cuda.from)).includes(Buffer.from(`\0${EP_ORT_VERSION}\0`)))
      throw new Error(`${cuda.from} does not carry ORT ${EP_ORT_VERSION}'s version string: not the expected build`);

    const files: Marker['files'] = {};
    for (const { from, to } of plan.copies) {
      const bytes = await readFile(from);
      await copyFile(from, `${to}.partial`);
      await rename(`${to}.partial`, to);
      files[basename(to)] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
      log(`installed ${to} (${(bytes.length / 1e6).toFixed(1)} MB)`);
    }
    const marker: Marker = { package: `${EP_PACKAGE}@${EP_PACKAGE_VERSION}`, ortVersion: EP_ORT_VERSION, files };
    await writeFile(join(opts.binDir, MARKER), `${JSON.stringify(marker, null, 1)}\n`);
    return marker;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------------ check

/** What the check found on this host; gathered by {@link gatherFacts}, judged by {@link diagnose}. */
export interface GpuFacts {
  readonly platform: string;
  readonly arch: string;
  readonly binDir: string;
  readonly coreVersion: string;
  /** Size of each provider library in `binDir`, `null` when absent. */
  readonly libs: Readonly<Record<string, number | null>>;
  readonly marker: Marker | null;
  /** The NVIDIA kernel driver's version, `null` when there is none. */
  readonly driver: string | null;
  /** Libraries the CUDA provider needs that the dynamic loader cannot find (ldd, plus cuDNN looked up by hand). */
  readonly missingLibs: readonly string[];
  readonly libraryPath: string;
}

export interface Diagnosis {
  readonly ok: boolean;
  readonly problems: readonly string[];
}

/** Which part of the host a library belongs to, for a message an operator can act on. */
export function libraryOwner(name: string): 'driver' | 'cuda' | 'cudnn' | 'onnxruntime' | 'system' {
  if (name.startsWith('libcuda.so') || name.startsWith('libnvidia')) return 'driver';
  if (name.startsWith('libcudnn')) return 'cudnn';
  if (/^lib(cudart|cublas|cublasLt|curand|cufft|cusparse|cusolver|nvrtc|nvJitLink)\.so/.test(name)) return 'cuda';
  if (name.startsWith('libonnxruntime')) return 'onnxruntime';
  return 'system';
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Everything that stops onnxruntime-node's CUDA provider from loading here, most basic first. */
export function diagnose(f: GpuFacts): Diagnosis {
  const problems: string[] = [];
  if (f.platform !== 'linux' || f.arch !== 'x64') {
    problems.push(`the CUDA provider is set up for linux-x64 only; this is ${f.platform}-${f.arch}`);
    return { ok: false, problems };
  }
  const absent = EP_LIBS.filter((name) => !f.libs[name]);
  if (absent.length > 0)
    problems.push(
      `the CUDA provider is not installed (${absent.join(', ')} missing or empty in ${f.binDir}): run npm run gpu:install`,
    );
  else if (f.marker === null)
    problems.push(
      `the provider libraries in ${f.binDir} were not installed by npm run gpu:install: their version is unknown; run it`,
    );
  else if (f.marker.ortVersion !== f.coreVersion)
    problems.push(
      `the CUDA provider is ORT ${f.marker.ortVersion} but onnxruntime-node is ${f.coreVersion}: run npm run gpu:install`,
    );
  else {
    for (const name of EP_LIBS) {
      const want = f.marker.files[name]?.bytes;
      if (want !== undefined && want !== f.libs[name])
        problems.push(`${name} is ${f.libs[name]} bytes, ${want} were installed: damaged; run npm run gpu:install`);
    }
  }

  if (f.driver === null)
    problems.push(
      `no NVIDIA driver (no /proc/driver/nvidia/version, nvidia-smi does not answer): install driver ${MIN_DRIVER} or newer`,
    );
  else if (compareVersions(f.driver, MIN_DRIVER) < 0)
    problems.push(`the NVIDIA driver is ${f.driver}; CUDA 13 needs ${MIN_DRIVER} or newer`);

  const owners = new Map<string, string[]>();
  for (const lib of f.missingLibs) owners.set(libraryOwner(lib), [...(owners.get(libraryOwner(lib)) ?? []), lib]);
  const where = f.libraryPath === '' ? 'LD_LIBRARY_PATH is empty' : `LD_LIBRARY_PATH=${f.libraryPath}`;
  const driverLibs = owners.get('driver');
  if (driverLibs && f.driver !== null)
    problems.push(
      `${driverLibs.join(', ')} not found although a driver runs: install the driver's user-space libraries`,
    );
  const cuda = owners.get('cuda');
  if (cuda)
    problems.push(
      `CUDA 13 runtime libraries not found: ${cuda.join(', ')} (${where}); install the CUDA 13 toolkit's libraries ` +
        `(e.g. cuda-libraries-13-0) and add their folder, e.g. /usr/local/cuda-13.0/targets/x86_64-linux/lib, to LD_LIBRARY_PATH`,
    );
  const cudnn = owners.get('cudnn');
  if (cudnn)
    problems.push(
      `cuDNN 9 for CUDA 13 not found: ${cudnn.join(', ')} (${where}); install it (e.g. cudnn9-cuda-13) and add its folder to LD_LIBRARY_PATH`,
    );
  const other = [...(owners.get('onnxruntime') ?? []), ...(owners.get('system') ?? [])];
  if (other.length > 0) problems.push(`other libraries the CUDA provider needs are missing: ${other.join(', ')}`);
  return { ok: problems.length === 0, problems };
}

/** `ldd` output → the libraries it could not find. */
export function parseLddMissing(output: string): string[] {
  const missing: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+not found/.exec(line);
    if (m?.[1]) missing.push(m[1]);
  }
  return missing;
}

/** Whether the dynamic loader would find `name`: LD_LIBRARY_PATH first, then ld.so's cache. */
export function findLibrary(name: string, libraryPath: string): boolean {
  for (const dir of libraryPath.split(delimiter)) if (dir !== '' && existsSync(join(dir, name))) return true;
  const cache = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  return cache.status === 0 && cache.stdout.split('\n').some((line) => line.trim().startsWith(`${name} `));
}

export function readDriverVersion(): string | null {
  try {
    const m = /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(readFileSync('/proc/driver/nvidia/version', 'utf8'));
    if (m?.[1]) return m[1];
  } catch {
    // no kernel module file: ask nvidia-smi (containers often lack /proc/driver/nvidia)
  }
  const smi = spawnSync('nvidia-smi', ['--query-gpu=driver_version', '--format=csv,noheader'], { encoding: 'utf8' });
  const version = smi.status === 0 ? smi.stdout.trim().split('\n')[0]?.trim() : undefined;
  return version && /^[\d.]+$/.test(version) ? version : null;
}

export async function readMarker(binDir: string): Promise<Marker | null> {
  try {
    return JSON.parse(await readFile(join(binDir, MARKER), 'utf8')) as Marker;
  } catch {
    return null;
  }
}

/** Looks at this host: the provider files, the driver, and which of the provider's libraries cannot be loaded. */
export async function gatherFacts(
  binDir: string,
  coreVersion: string,
  env: NodeJS.ProcessEnv = process.env,
  driver: () => string | null = readDriverVersion,
): Promise<GpuFacts> {
  const libs: Record<string, number | null> = {};
  for (const name of EP_LIBS) libs[name] = existsSync(join(binDir, name)) ? statSync(join(binDir, name)).size : null;
  const libraryPath = env['LD_LIBRARY_PATH'] ?? '';
  const missingLibs: string[] = [];
  const cudaLib = join(binDir, EP_LIBS[0]);
  if (libs[EP_LIBS[0]]) {
    const ldd = spawnSync('ldd', [cudaLib], { encoding: 'utf8', env: { ...env, LD_LIBRARY_PATH: libraryPath } });
    missingLibs.push(...parseLddMissing(`${ldd.stdout}\n${ldd.stderr}`));
  }
  if (!findLibrary(CUDNN, libraryPath)) missingLibs.push(CUDNN);
  return {
    platform: process.platform,
    arch: process.arch,
    binDir,
    coreVersion,
    libs,
    marker: await readMarker(binDir),
    driver: driver(),
    missingLibs,
    libraryPath,
  };
}
