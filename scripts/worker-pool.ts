import { type ChildProcess, fork } from 'node:child_process';
import process from 'node:process';

/** tsx's loader by absolute URL: a bare `tsx` would be looked up from the working directory, which may be anywhere. */
const TSX = import.meta.resolve('tsx');

/** A worker process started by a test or demo: `npm run worker` in a child with its own environment. */
export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

/**
 * Forks `worker/main.ts` (through tsx) and resolves once it reports ready (model loaded, queue attached).
 * Output goes to `log` line by line, prefixed with the worker id.
 */
export async function startWorker(
  id: string,
  env: Record<string, string>,
  log: (line: string) => void = () => undefined,
): Promise<WorkerProcess> {
  const child = fork(new URL('../worker/main.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', TSX],
    env: { ...process.env, ...env, WORKER_ID: id, WORKER_HEALTH_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') log(`[${id}] ${line}`);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${id} did not become ready in 60 s`)), 60_000);
    child.on('message', (message: { ready?: boolean }) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${id} exited with ${code} before it was ready`));
    });
  });
  return { id, child, exited };
}

/** `npm run workers` started by a test or benchmark: the pool process, its output, and what it logged. */
export interface PoolProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The worker ids the pool reported ready. */
  readonly workers: readonly string[];
  /** Everything the pool and its workers printed so far. */
  output(): string;
  /** The JSON log lines so far (pool and workers), parsed. */
  lines(): Array<Record<string, unknown>>;
  /** Resolves once a log line matches `match`; rejects after `timeoutMs` or when the pool exits first. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/**
 * Forks `worker/pool.ts` with `env` (`WORKER_GPUS` and the workers' settings) and resolves once every worker is ready.
 * With `waitReady: false` it resolves at once (for pools expected to fail).
 */
export async function startPool(
  env: Record<string, string>,
  options: { waitReady?: boolean; timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<PoolProcess> {
  const child = fork(new URL('../worker/pool.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', TSX],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  let partial = '';
  const parsed: Array<Record<string, unknown>> = [];
  const onData = (chunk: string) => {
    output += chunk;
    const text = partial + chunk;
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) {
      if (line.trim() === '') continue;
      options.log?.(line);
      try {
        parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line (a stack trace, npm's warnings)
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', onData);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let workers: string[] = [];
  if (options.waitReady !== false) {
    const timeoutMs = options.timeoutMs ?? 60_000;
    workers = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the pool was not ready in ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      child.on('message', (message: { ready?: boolean; workers?: string[] }) => {
        if (message.ready) {
          clearTimeout(timer);
          resolve(message.workers ?? []);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the pool exited with ${code} before it was ready:\n${output}`));
      });
    });
  }
  return {
    child,
    exited,
    workers,
    output: () => output,
    lines: () => parsed,
    async waitForLine(match, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = parsed.find(match);
        if (found !== undefined) return found;
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`the pool never logged ${what}:\n${output.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
