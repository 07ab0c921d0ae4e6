import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BotConfig } from '../bot/config.ts';
import { DiscordConfig } from '../bot/discord/config.ts';
import { SlackConfig } from '../bot/slack/config.ts';
import { WorkerConfig } from '../worker/config.ts';
import { PoolConfig } from '../worker/pool-plan.ts';
import { ORT_TELEMETRY_SWITCH } from '../worker/runtime/onnxruntime.ts';

const root = new URL('..', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const schemas = { BotConfig, WorkerConfig, DiscordConfig, SlackConfig, PoolConfig };
/** Every variable our processes read: the configuration schemas, plus onnxruntime's switch that the runtime sets. */
const known = new Set([...Object.values(schemas).flatMap((schema) => Object.keys(schema.shape)), ORT_TELEMETRY_SWITCH]);

/** `.env.example` as `KEY → example value`, commented-out lines included (they show the defaults). */
function exampleEntries(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of read('.env.example').split('\n')) {
    const match = /^#?\s?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match !== null) entries.set(match[1] as string, match[2] as string);
  }
  return entries;
}

describe('.env.example', () => {
  it('lists every variable the bot, the playground, the chat front ends, the workers and the pool read, and no other', () => {
    expect([...exampleEntries().keys()].sort()).toEqual([...known].sort());
  });

  it.each(Object.entries(schemas))('has example values that %s accepts', (_name, schema) => {
    const result = schema.safeParse(Object.fromEntries(exampleEntries()));

    expect(result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
  });

  it('is documented variable by variable in docs/deploy.md', () => {
    const deploy = read('docs/deploy.md');

    expect([...known].filter((name) => !deploy.includes(`\`${name}\``))).toEqual([]);
  });
});

interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { resources?: { reservations?: { devices?: { driver: string; capabilities: string[] }[] } } };
}

describe('docker-compose.yml (not run here: no Docker in CI)', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const documented = `${read('README.md')}\n${read('docs/deploy.md')}`;

  it('has the bot, a CPU worker, a GPU worker, Redis and PostgreSQL', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['bot', 'postgres', 'redis', 'worker', 'worker-gpu']);
  });

  it.each([
    ['bot', 'bot'],
    ['worker', 'worker'],
    ['worker-gpu', 'workers'],
  ])(
    'runs %s as `npm run %s`, a script of package.json that the README or docs/deploy.md documents',
    (service, script) => {
      const spec = compose.services[service];

      expect(spec?.command).toEqual(['npm', 'run', script]);
      expect(scripts[script]).toBeDefined();
      expect(documented).toContain(`npm run ${script}`);
      expect(spec?.build).toBe('.');
    },
  );

  it('sets only variables that exist in the configuration schemas on our services', () => {
    const ours = ['bot', 'worker', 'worker-gpu'].map((name) => compose.services[name]);
    const unknown = ours.flatMap((s) => Object.keys(s?.environment ?? {})).filter((name) => !known.has(name));

    expect(unknown).toEqual([]);
  });

  it('reserves NVIDIA GPUs for the GPU worker only, behind the gpu profile', () => {
    const gpu = compose.services['worker-gpu'];
    const devices = gpu?.deploy?.resources?.reservations?.devices ?? [];

    expect(devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] })]);
    expect(gpu?.profiles).toEqual(['gpu']);
    expect(compose.services['worker']?.deploy).toBeUndefined();
  });

  it('points the services at each other by service name and waits for Redis and PostgreSQL to be healthy', () => {
    const bot = compose.services['bot'];

    expect(bot?.environment?.['REDIS_URL']).toBe('redis://redis:6379');
    expect(new URL(bot?.environment?.['DATABASE_URL'] ?? '').host).toBe('postgres:5432');
    expect(bot?.depends_on).toEqual({
      redis: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
    });
    for (const name of ['worker', 'worker-gpu'])
      expect(compose.services[name]?.environment?.['REDIS_URL']).toBe('redis://redis:6379');
  });

  it('builds from a Dockerfile that installs with npm ci from the lock file and defaults to the bot', () => {
    const dockerfile = read('Dockerfile');

    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^CMD \["npm", "run", "bot"\]$/m);
  });
});
