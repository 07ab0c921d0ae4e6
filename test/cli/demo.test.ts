import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRunFolder } from '../../cli/run-folder.ts';
import { freePort, redisReachable } from '../../scripts/local-redis.ts';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const root = new URL('../..', import.meta.url).pathname;
/** As `npm run demo` starts it: node with tsx's loader, no tsx CLI process between (its signal relay differs). */
const TSX = import.meta.resolve('tsx');

/** `npm run demo` (or another cli script) in its own process group, from `cwd`, its output collected. */
interface Demo {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout + stderr, as soon as it is printed. */
  waitFor(pattern: RegExp, what: string): Promise<RegExpMatchArray>;
}
const started: Demo[] = [];

function launch(script: string, args: string[], cwd: string, env: Record<string, string> = {}): Demo {
  const child = spawn(process.execPath, ['--import', TSX, join(root, script), ...args], {
    cwd,
    env: { ...process.env, REDIS_URL, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      output += chunk;
      for (const wake of waiters) wake();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const demo: Demo = {
    child,
    exited,
    output: () => output,
    waitFor: (pattern, what) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match !== null) {
            waiters.delete(check);
            resolve(match);
          }
        };
        waiters.add(check);
        check();
        void exited.then(() => {
          check();
          if (waiters.has(check)) reject(new Error(`exited before printing ${what}:\n${output}`));
        });
      }),
  };
  started.push(demo);
  return demo;
}

async function startDemo(cwd: string, env: Record<string, string> = {}) {
  const demo = launch('cli/playground.ts', ['--port', '0'], cwd, env);
  const [, url] = await demo.waitFor(/playground at (http:\/\/\S+) /, 'the playground URL');
  const [, prefix, workerPid] = await demo.waitFor(/queues under "([^"]+)" .* worker pid (\d+)/, 'its queue prefix');
  return { demo, url: url as string, prefix: prefix as string, workerPid: Number(workerPid) };
}

/** Submits as the page does: with the session's CSRF token, from the playground's own origin. */
async function submit(url: string, text: string): Promise<string> {
  const { csrfToken } = (await (await fetch(`${url}/api/session`)).json()) as { csrfToken: string };
  const answer = (await (
    await fetch(`${url}/api/command?user=tester`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken, origin: url },
      body: JSON.stringify({ text }),
    })
  ).json()) as { ok: boolean; jobId?: string; error?: string };
  if (!answer.ok || answer.jobId === undefined) throw new Error(`${text}: ${answer.error}`);
  return answer.jobId;
}

/** The playground's own view of a user's jobs (what the browser shows), polled until `done` holds. */
async function waitForJobs(url: string, done: (jobs: Map<string, string>) => boolean, what: string) {
  const deadline = Date.now() + 150_000;
  for (;;) {
    const me = (await (await fetch(`${url}/api/me?user=tester`)).json()) as {
      history: { jobId: string; status: string }[];
    };
    const jobs = new Map(me.history.map((j) => [j.jobId, j.status]));
    if (done(jobs)) return jobs;
    if (Date.now() > deadline) throw new Error(`never saw ${what}: ${JSON.stringify([...jobs])}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

afterAll(async () => {
  // SIGTERM is the demo's own clean stop: it ends its worker and its private redis-server.
  for (const demo of started)
    if (demo.child.exitCode === null && demo.child.signalCode === null) demo.child.kill('SIGTERM');
  await Promise.all(started.map((d) => d.exited));
}, 60_000);

describe('npm run gallery', () => {
  it('writes into a new out/gallery-… folder and leaves the clips already in ./out alone', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'pusa-gallery-'));
    await mkdir(join(cwd, 'out/gallery-earlier'), { recursive: true });
    await writeFile(join(cwd, 'out/t2v.mp4'), 'a clip the user made');
    await writeFile(join(cwd, 'out/gallery-earlier/t2v.mp4'), 'an earlier gallery');

    const gallery = launch('cli/demo.ts', ['--steps', '2'], cwd);
    const [, folder] = await gallery.waitFor(/made 6 clips in (out\/gallery-[\d-]+)\//, 'its summary');

    expect(await gallery.exited).toBe(0);
    expect(await readFile(join(cwd, 'out/t2v.mp4'), 'utf8')).toBe('a clip the user made');
    expect(await readFile(join(cwd, 'out/gallery-earlier/t2v.mp4'), 'utf8')).toBe('an earlier gallery');
    expect((await readdir(join(cwd, folder as string))).filter((f) => f.endsWith('.mp4')).sort()).toEqual([
      'extend.mp4',
      'i2v.mp4',
      'keyframes.mp4',
      'start-end.mp4',
      't2v.mp4',
      'transition.mp4',
    ]);
  }, 180_000);
});

describe('createRunFolder', () => {
  it('gives a second run in the same second a folder of its own', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pusa-runs-'));
    const now = new Date(2026, 0, 2, 3, 4, 5);

    const first = await createRunFolder('demo', parent, now);
    const second = await createRunFolder('demo', parent, now);

    expect(first).toMatch(/demo-20260102-030405$/);
    expect(second).toMatch(/demo-20260102-030405-2$/);
  });
});

describe('npm run demo', () => {
  it('--once writes its session into a new out/demo-… folder and leaves ./out alone', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'pusa-once-'));
    await mkdir(join(cwd, 'out'));
    await writeFile(join(cwd, 'out/t2v-0.mp4'), 'a clip the user made');

    const once = launch('cli/playground.ts', ['--once'], cwd);
    const [, folder] = await once.waitFor(
      /demo: 7\/7 requests completed, clips in (out\/demo-[\d-]+)\//,
      'its summary',
    );

    expect(await once.exited).toBe(0);
    expect(await readFile(join(cwd, 'out/t2v-0.mp4'), 'utf8')).toBe('a clip the user made');
    expect((await readdir(join(cwd, folder as string))).filter((f) => f.endsWith('.mp4'))).toHaveLength(6);
  }, 180_000);

  it('two demos on one Redis each get all of their own clips (QUEUE_PREFIX honoured, else a prefix per port)', async () => {
    const custom = `demo-test-${process.pid}-${Date.now()}`;
    const [a, b] = await Promise.all([
      startDemo(await mkdtemp(join(tmpdir(), 'pusa-demo-a-')), { QUEUE_PREFIX: custom }),
      startDemo(await mkdtemp(join(tmpdir(), 'pusa-demo-b-'))),
    ]);
    expect(a.prefix).toBe(custom);
    expect(b.prefix).not.toBe(custom);
    expect(b.prefix).not.toBe('pusa');

    const submitted = { a: [] as string[], b: [] as string[] };
    for (let i = 0; i < 3; i++) {
      submitted.a.push(await submit(a.url, `/t2v a red circle moves right ${i} --steps 2`));
      submitted.b.push(await submit(b.url, `/t2v a blue square moves up ${i} --steps 2`));
    }
    const settled = (ids: string[]) => (jobs: Map<string, string>) =>
      ids.every((id) => ['succeeded', 'failed', 'cancelled'].includes(jobs.get(id) ?? ''));
    const [jobsA, jobsB] = await Promise.all([
      waitForJobs(a.url, settled(submitted.a), "A's three jobs settled"),
      waitForJobs(b.url, settled(submitted.b), "B's three jobs settled"),
    ]);

    expect(submitted.a.map((id) => jobsA.get(id))).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(submitted.b.map((id) => jobsB.get(id))).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.exists(`${custom}:generate:${submitted.a[0]}`)).toBe(1);
      expect(await redis.exists(`${b.prefix}:generate:${submitted.a[0]}`)).toBe(0);
    } finally {
      redis.disconnect();
    }

    // The worker killed mid-job: the demo says so, starts another, and the job runs again to the end.
    const long = await submit(a.url, '/t2v a green square moves down --steps 50');
    await waitForJobs(a.url, (jobs) => jobs.get(long) === 'running', 'the long job running');
    process.kill(a.workerPid, 'SIGKILL');

    await a.demo.waitFor(
      /the worker \(pid \d+\) stopped unexpectedly \(killed by SIGKILL\); starting another/,
      'the death',
    );
    await a.demo.waitFor(new RegExp(`job ${long} went back to the queue`), 'the requeue');
    const after = await waitForJobs(a.url, settled([long]), 'the long job settled');
    expect(after.get(long)).toBe('succeeded');
  }, 300_000);

  it('stops quietly on Ctrl-C with its private redis-server, and removes it', async () => {
    const unused = await freePort();
    const { demo, url } = await startDemo(await mkdtemp(join(tmpdir(), 'pusa-demo-c-')), {
      REDIS_URL: `redis://127.0.0.1:${unused}`,
    });
    const [, privateUrl] = await demo.waitFor(/a private redis-server \((redis:\/\/[^)]+)\)/, 'its private Redis');
    const job = await submit(url, '/t2v a red circle moves right --steps 30');
    await waitForJobs(url, (jobs) => jobs.get(job) === 'running', 'the job running');

    // What a terminal's Ctrl-C does: SIGINT to every process of the foreground group.
    process.kill(-(demo.child.pid as number), 'SIGINT');

    expect(await demo.exited).toBe(0);
    expect(demo.output()).toContain('demo: stopping');
    expect(demo.output()).not.toMatch(/ECONNREFUSED|Unhandled|\n\s+at /);
    expect(await redisReachable(privateUrl as string)).toBe(false);
  }, 180_000);

  it('says in one line which port is busy and how to choose another', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const demo = launch('cli/playground.ts', ['--port', String(port)], await mkdtemp(join(tmpdir(), 'pusa-busy-')));

      expect(await demo.exited).toBe(1);
      expect(demo.output().trim()).toBe(
        `demo: cannot listen on 127.0.0.1:${port} (another program, perhaps another demo, is using it); choose another port: npm run demo -- --port ${port + 1} (or --port 0 for any free one)`,
      );
    } finally {
      busy.close();
    }
  }, 120_000);
});
