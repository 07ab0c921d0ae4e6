import { type ChildProcess, fork } from 'node:child_process';

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
    execArgv: ['--import', 'tsx'],
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
