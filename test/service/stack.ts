import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeBot } from '../../bot/compose.ts';
import type { Delivery, JobUpdate } from '../../bot/core/events.ts';
import type { ImageCheck, SubmitInput } from '../../bot/core/front-end.ts';
import { localServiceConfig, type Service, type ServiceConfig } from '../../bot/service.ts';
import { startWorker, type WorkerProcess } from '../../scripts/worker-pool.ts';
import { PACK_DIR } from '../helpers/pack.ts';

/** The service with a database and artifact store of its own, on a Redis prefix of its own, plus its workers. */
export interface Stack {
  readonly service: Service;
  readonly prefix: string;
  /** The service's own folder: its SQLite file and `artifacts/`. */
  readonly dir: string;
  readonly deliveries: Delivery[];
  /** The service's log lines, `level message {fields}`. */
  readonly logs: string[];
  readonly updates: JobUpdate[];
  readonly workers: WorkerProcess[];
  startWorker(id: string, env?: Record<string, string>): Promise<WorkerProcess>;
  submit(
    request: SubmitInput['request'],
    options?: { user?: string; requestKey?: string },
  ): ReturnType<Service['frontEnd']['submit']>;
  waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(options: {
  redisUrl: string;
  databaseUrl?: string;
  imageCheck?: ImageCheck;
  /** Settings over the local defaults (e.g. the reconciler's interval). */
  config?: Partial<ServiceConfig>;
  /** Replaces recording into `deliveries`; what it throws retries the delivery. */
  deliver?: (d: Delivery) => Promise<void>;
}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'pusa-stack-'));
  const prefix = `t-${randomUUID().slice(0, 8)}`;
  const deliveries: Delivery[] = [];
  const updates: JobUpdate[] = [];
  const workers: WorkerProcess[] = [];
  const logs: string[] = [];
  const line = (level: string) => (o: object, m: string) => void logs.push(`${level} ${m} ${JSON.stringify(o)}`);
  const bot = await composeBot(
    {
      service: {
        ...localServiceConfig({
          redisUrl: options.redisUrl,
          prefix,
          dir,
          databaseUrl: options.databaseUrl,
          modelDir: PACK_DIR,
        }),
        ...options.config,
      },
    },
    {
      log: { info: line('info'), warn: line('warn'), error: line('error') },
      // The tests are the front end of their jobs (platform `local`, see `submit`).
      frontEnds: {
        local: {
          deliver: options.deliver ?? (async (d) => void deliveries.push(d)),
          update: (u) => void updates.push(u),
        },
      },
      ...(options.imageCheck === undefined ? {} : { imageCheck: options.imageCheck }),
    },
  );
  const { service } = bot;
  const workerEnv = {
    REDIS_URL: options.redisUrl,
    QUEUE_PREFIX: prefix,
    MODEL_DIR: PACK_DIR,
    LOG_LEVEL: 'warn',
    LOCK_DURATION_MS: '3000',
    STALLED_INTERVAL_MS: '1000',
    ORT_THREADS: '1',
  };
  let n = 0;
  return {
    service,
    prefix,
    dir,
    deliveries,
    logs,
    updates,
    workers,
    async startWorker(id, env = {}) {
      const worker = await startWorker(id, { ...workerEnv, ...env });
      workers.push(worker);
      return worker;
    },
    submit(request, submitOptions = {}) {
      n += 1;
      const user = submitOptions.user ?? 'ada';
      return service.frontEnd.submit({
        requestKey: submitOptions.requestKey ?? `${prefix}-${n}`,
        user: { platform: 'local', externalId: user, displayName: user },
        workspace: { platform: 'local', externalId: 'tests', name: 'tests' },
        origin: { platform: 'local', channelId: 'c' },
        request,
      });
    },
    async waitFor(condition, what, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      await Promise.allSettled(
        workers.map(async (w) => {
          if (w.child.exitCode === null) w.child.kill('SIGKILL');
          await w.exited;
        }),
      );
      await service.generate.obliterate({ force: true }).catch(() => undefined);
      await bot.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const sample = (name: string) => readFile(new URL(`../../samples/${name}`, import.meta.url));
