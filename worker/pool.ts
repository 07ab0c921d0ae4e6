import { type ChildProcess, fork } from 'node:child_process';
import process from 'node:process';
import { pino } from 'pino';
import { withDotEnv } from './config.ts';
import { DEVICE_LOST_EXIT_CODE } from './device-errors.ts';
import { loadPool, nextRestartDelay, type PoolSlot } from './pool-plan.ts';

/**
 * `npm run workers`: one worker (`worker/main.ts`) per GPU of this host, all on the same queue. `WORKER_GPUS` picks the
 * GPUs (`all`, `0,1,3`, or `cpu:N`); every other variable is the workers' own (docs/deploy.md). The pool restarts a
 * worker that dies (a lost GPU exits with DEVICE_LOST_EXIT_CODE after failing its job back to the queue), with
 * backoff, and stops restarting one that crashed more than POOL_MAX_RESTARTS times in POOL_RESTART_WINDOW_MS. SIGTERM
 * or SIGINT: each worker finishes its job, then the pool exits 0; a second signal kills them. It exits 1 when no
 * worker is left.
 */
const env = withDotEnv();
let plan: ReturnType<typeof loadPool>;
try {
  plan = loadPool(env);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
const { config, slots } = plan;
const log = pino({ level: config.LOG_LEVEL, base: { service: 'worker-pool' } });
const root = new URL('..', import.meta.url).pathname;

interface Member {
  readonly slot: PoolSlot;
  readonly id: string;
  child: ChildProcess | undefined;
  exited: Promise<number | null> | undefined;
  crashes: number[];
  restart: NodeJS.Timeout | undefined;
  ready: boolean;
  gaveUp: boolean;
}
const members: Member[] = slots.map((slot) => ({
  slot,
  id: slot.env['WORKER_ID'] as string,
  child: undefined,
  exited: undefined,
  crashes: [],
  restart: undefined,
  ready: false,
  gaveUp: false,
}));
let stopping = false;
let announced = false;

function start(member: Member): void {
  member.restart = undefined;
  const child = fork(`${root}worker/main.ts`, [], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    env: { ...env, ...member.slot.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  member.child = child;
  member.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  log.info({ worker: member.id, gpu: member.slot.gpu ?? null, pid: child.pid }, 'worker starting');
  child.on('message', (message: { ready?: boolean }) => {
    if (!message.ready) return;
    member.ready = true;
    if (!announced && members.every((m) => m.ready || m.gaveUp)) {
      announced = true;
      const workers = members.filter((m) => m.ready).map((m) => m.id);
      log.info({ workers }, 'pool ready');
      process.send?.({ ready: true, workers });
    }
  });
  child.once('exit', (code, signal) => onExit(member, child, code, signal));
}

function onExit(member: Member, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
  if (member.child === child) member.child = undefined;
  if (stopping) return;
  const context = { worker: member.id, gpu: member.slot.gpu ?? null, code, signal };
  if (code === DEVICE_LOST_EXIT_CODE) log.error(context, 'worker lost its device; its job went back to the queue');
  else log.warn(context, 'worker exited unexpectedly');
  const now = Date.now();
  member.crashes = [...member.crashes, now].filter((t) => now - t < config.POOL_RESTART_WINDOW_MS);
  const delayMs = nextRestartDelay(member.crashes, now, config);
  if (delayMs === undefined) {
    member.gaveUp = true;
    log.error(
      { ...context, crashes: member.crashes.length, windowMs: config.POOL_RESTART_WINDOW_MS },
      `giving up on ${member.id}: ${member.crashes.length} crashes within ${config.POOL_RESTART_WINDOW_MS / 1000} s`,
    );
    if (members.every((m) => m.gaveUp)) {
      log.fatal({}, 'no worker left: exiting');
      process.exit(1);
    }
    return;
  }
  log.info({ worker: member.id, delayMs }, 'restarting worker');
  member.restart = setTimeout(() => start(member), delayMs);
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    log.warn({ signal }, 'second signal: killing the workers');
    for (const member of members) member.child?.kill('SIGKILL');
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, 'stopping: each worker finishes its current job first');
  for (const member of members) {
    clearTimeout(member.restart);
    member.child?.kill('SIGTERM');
  }
  const codes = await Promise.all(members.map((m) => (m.child === undefined ? 0 : m.exited)));
  log.info({ codes }, 'pool stopped');
  process.exit(codes.every((c) => c === 0) ? 0 : 1);
}

log.info(
  { workers: members.map((m) => ({ id: m.id, gpu: m.slot.gpu ?? null, env: m.slot.env })) },
  `starting ${members.length} worker${members.length === 1 ? '' : 's'}`,
);
for (const member of members) start(member);
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
// Started by a parent process (a benchmark or a test): leave with it. The workers leave with us (their IPC channel).
process.once('disconnect', () => void stop('SIGTERM'));
