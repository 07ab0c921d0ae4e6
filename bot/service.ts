import { FlowProducer } from 'bullmq';
import { Redis } from 'ioredis';
import { JobName } from '../commands/index.ts';
import { loadModelPack } from '../pack/manifest.ts';
import { createPrismaStore, migrateToLatest } from '../prisma/store.ts';
import { createBlobStore } from '../queue/blobs.ts';
import { openQueue } from '../queue/contract.ts';
import { createTimingBook } from '../queue/timings.ts';
import { createArtifactStore } from './artifacts.ts';
import type { BotConfig } from './config.ts';

/** What the service itself needs of the bot's configuration (front ends read the rest). */
export type ServiceConfig = Pick<
  BotConfig,
  'REDIS_URL' | 'QUEUE_PREFIX' | 'DATABASE_URL' | 'ARTIFACT_DIR' | 'MODEL_DIR' | 'JOB_ATTEMPTS'
> &
  Partial<BotConfig>;

import { type DeliveryLog, startDelivery } from './core/delivery.ts';
import type { Delivery, JobUpdate } from './core/events.ts';
import { createFrontEnd, type ImageCheck } from './core/front-end.ts';
import { createReconciler } from './core/reconcile.ts';

/**
 * The settings of a self-contained service for demos, benchmarks and tests: its SQLite database (unless
 * `databaseUrl` says otherwise) and its artifacts under `dir`, on a Redis key prefix of its own.
 */
export function localServiceConfig(options: {
  redisUrl: string;
  prefix: string;
  dir: string;
  databaseUrl?: string | undefined;
  modelDir?: string;
  /** Off unless asked for: tests and demos start many services and answer no bursts. */
  warmUpSubmits?: number;
}): ServiceConfig {
  return {
    REDIS_URL: options.redisUrl,
    QUEUE_PREFIX: options.prefix,
    DATABASE_URL: options.databaseUrl ?? `file:${options.dir}/pusa.db`,
    ARTIFACT_DIR: `${options.dir}/artifacts`,
    MODEL_DIR: options.modelDir ?? 'models/pusa-mini',
    JOB_ATTEMPTS: 3,
    WARM_UP_SUBMITS: options.warmUpSubmits ?? 0,
  };
}

/**
 * The bot host's half of the service, without any chat platform: database (migrated at start), artifact store,
 * queues, the front-end core and the delivery consumer. `composeBot` (bot/compose.ts) starts it, for `npm run bot`,
 * the demos, the benchmarks and the tests alike.
 */
export async function startService(
  config: ServiceConfig,
  hooks: {
    deliver: (d: Delivery) => Promise<void>;
    imageCheck?: ImageCheck;
    onUpdate?: (u: JobUpdate) => void;
    log?: DeliveryLog;
  },
) {
  await migrateToLatest(config.DATABASE_URL);
  const store = await createPrismaStore(config.DATABASE_URL);
  const pack = await loadModelPack(config.MODEL_DIR);
  const connection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const publisher = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  // ioredis reconnects by itself; without a listener each failed attempt is printed as "unhandled".
  for (const client of [connection, publisher])
    client.on('error', (error) => hooks.log?.warn({ err: error.message }, 'redis connection error'));
  // Connected before the service answers anyone: the front end reads "not connected" as the queue being away.
  // (Not events.once: that rejects on the first 'error', and ioredis reconnects past a transient one by itself.)
  await Promise.all(
    [connection, publisher].map((c) =>
      c.status === 'ready' ? undefined : new Promise<void>((resolve) => c.once('ready', () => resolve())),
    ),
  );
  const blobs = createBlobStore(connection, `${config.QUEUE_PREFIX}:blob`);
  const artifacts = createArtifactStore(config.ARTIFACT_DIR);
  const generate = openQueue(JobName.Generate, { connection, prefix: config.QUEUE_PREFIX });
  const deliverQueue = openQueue(JobName.Deliver, { connection, prefix: config.QUEUE_PREFIX });
  // Without a listener BullMQ prints every failed reconnect as a stack trace.
  generate.on('error', (error) => hooks.log?.warn({ err: error.message }, 'generate queue error'));
  deliverQueue.on('error', (error) => hooks.log?.warn({ err: error.message }, 'deliver queue error'));
  // /long's chains are BullMQ flows (bot/core/long.ts).
  const flows = new FlowProducer({ connection, prefix: config.QUEUE_PREFIX });
  flows.on('error', (error) => hooks.log?.warn({ err: error.message }, 'flow producer error'));
  const frontEnd = createFrontEnd({
    flows,
    ...(config.LONG_MAX_SEGMENTS === undefined ? {} : { longMaxSegments: config.LONG_MAX_SEGMENTS }),
    store,
    generate,
    blobs,
    publisher,
    prefix: config.QUEUE_PREFIX,
    manifest: pack.manifest,
    artifacts,
    jobAttempts: config.JOB_ATTEMPTS,
    timings: createTimingBook(connection, config.QUEUE_PREFIX),
    ...(hooks.imageCheck === undefined ? {} : { imageCheck: hooks.imageCheck }),
  });
  const delivery = startDelivery({
    connection,
    prefix: config.QUEUE_PREFIX,
    store,
    blobs,
    artifacts,
    redis: publisher,
    deliver: hooks.deliver,
    ...(hooks.onUpdate === undefined ? {} : { onUpdate: hooks.onUpdate }),
    ...(hooks.log === undefined ? {} : { log: hooks.log }),
  });
  // Jobs the database holds in flight that the queue lost (a crash mid-submit, Redis restarted empty): repaired here.
  const reconciler = createReconciler({
    store,
    generate,
    deliver: deliverQueue,
    blobs,
    redis: publisher,
    prefix: config.QUEUE_PREFIX,
    jobAttempts: config.JOB_ATTEMPTS,
    graceMs: config.RECONCILE_GRACE_MS ?? 120_000,
    ...(hooks.onUpdate === undefined ? {} : { onUpdate: hooks.onUpdate }),
    ...(hooks.log === undefined ? {} : { log: hooks.log }),
  });
  reconciler.start(config.RECONCILE_INTERVAL_MS ?? 60_000);
  // Before the service is handed to anyone: the first burst after a restart then meets optimised code.
  await frontEnd.warmUp(config.WARM_UP_SUBMITS ?? 0);
  const onceKey = (key: string) => `${config.QUEUE_PREFIX}:once:${key}`;
  const noteKey = (key: string) => `${config.QUEUE_PREFIX}:note:${key}`;
  return {
    store,
    frontEnd,
    generate,
    pack,
    artifacts,
    reconciler,
    /**
     * Records `key` for `ttlSeconds` unless it is recorded already; false when it was (a replay). In Redis, so every
     * bot process sees it and a restart forgets nothing: an in-memory record let a captured Slack request replay
     * after a restart ([13] finding 8).
     */
    async firstSeen(key: string, ttlSeconds: number): Promise<boolean> {
      return (await connection.set(onceKey(key), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async forget(key: string): Promise<void> {
      await connection.del(onceKey(key));
    },
    /**
     * A small durable note for front ends, e.g. the file a job's clip was uploaded as, so a retried delivery reuses
     * it instead of uploading again ([13] finding 13). In Redis, so it survives a bot restart and is shared by every
     * bot process.
     */
    async remember(key: string, value: string, ttlSeconds: number): Promise<void> {
      await connection.set(noteKey(key), value, 'EX', ttlSeconds);
    },
    /** The note `remember` kept under `key`, or undefined (never kept, or expired). */
    async recall(key: string): Promise<string | undefined> {
      return (await connection.get(noteKey(key))) ?? undefined;
    },
    async close() {
      await reconciler.close();
      await delivery.close();
      await generate.close();
      await deliverQueue.close();
      await flows.close();
      await store.close();
      await Promise.allSettled([connection.quit(), publisher.quit()]);
    },
  };
}
export type Service = Awaited<ReturnType<typeof startService>>;
