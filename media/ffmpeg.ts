import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { MediaError } from './errors.ts';

const require = createRequire(import.meta.url);

/** The system's ffmpeg/ffprobe when on PATH, else the static binaries that npm packages ship. */
export function ffmpegPath(): string {
  return systemBinary('ffmpeg') ?? (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

export function ffprobePath(): string {
  return systemBinary('ffprobe') ?? (require('@ffprobe-installer/ffprobe') as { path: string }).path;
}

const found = new Map<string, string | undefined>();
function systemBinary(name: string): string | undefined {
  if (!found.has(name)) {
    const probe = spawnSync(name, ['-version'], { stdio: 'ignore' });
    found.set(name, probe.status === 0 ? name : undefined);
  }
  return found.get(name);
}

/**
 * Runs a binary with `input` on stdin and collects stdout. A non-zero exit becomes a {@link MediaError} carrying the
 * last lines of stderr; `timeoutMs` kills a run that hangs on a hostile file.
 */
export function runTool(
  binary: string,
  args: readonly string[],
  input: Uint8Array | undefined,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new MediaError('Encode', `cannot run ${binary}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(Buffer.concat(out));
      const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join(' | ');
      const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs} ms` : `exit ${code}`;
      reject(new MediaError('Corrupt', `${binary.split('/').pop()} failed (${why}): ${tail}`));
    });
    child.stdin.on('error', () => {
      // The tool may exit before reading all input (e.g. on a corrupt file); its exit status reports that.
    });
    child.stdin.end(input);
  });
}
