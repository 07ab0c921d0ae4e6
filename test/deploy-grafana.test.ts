import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/local-redis.ts';
import { PACK_DIR } from './helpers/pack.ts';

/**
 * deploy/grafana/pusa-bot.json (docs/deploy.md#grafana) charts only metrics the bot and workers really export: both
 * processes are started and their /metrics read, so a renamed metric breaks this test, not an operator's dashboard.
 */
const root = new URL('..', import.meta.url).pathname;
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/pusa-bot.json'), 'utf8')) as {
  uid: string;
  templating: { list: { name: string; type: string }[] };
  panels: { title: string; datasource: { uid: string }; targets: { expr: string; refId: string }[] }[];
};
const children: ChildProcess[] = [];
let dir = '';
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** Starts bot/main.ts or worker/main.ts and resolves once it printed `ready`. */
function start(entry: 'bot' | 'worker', env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${entry}/main.ts`], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (new RegExp(`${entry} ready`).test(output)) resolve();
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', seen);
    child.once('exit', (code) => reject(new Error(`${entry} exited ${code}:\n${output}`)));
  });
}

describe('the Grafana dashboard', () => {
  it('is a dashboard with a Prometheus data-source variable that every panel uses', () => {
    expect(dashboard.uid).toBe('pusa-bot');
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    );
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    for (const panel of dashboard.panels) {
      // Grafana's own variable syntax, not a template literal
      expect(panel.datasource.uid, panel.title).toBe(['$', '{datasource}'].join(''));
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('queries only metrics the running bot and worker export', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pusa-grafana-'));
    const [botPort, workerPort] = [await freePort(), await freePort()];
    const prefix = `grafana-${process.pid}-${Date.now()}`;
    await Promise.all([
      start('bot', {
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        DATABASE_URL: `file:${join(dir, 'pusa.db')}`,
        ARTIFACT_DIR: join(dir, 'artifacts'),
        MODEL_DIR: PACK_DIR,
        BOT_HEALTH_PORT: String(botPort),
      }),
      start('worker', { REDIS_URL, QUEUE_PREFIX: prefix, MODEL_DIR: PACK_DIR, WORKER_HEALTH_PORT: String(workerPort) }),
    ]);
    const exported = new Set<string>();
    for (const port of [botPort, workerPort]) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const [, name] of text.matchAll(/^# TYPE (\S+) /gm)) exported.add(name as string);
    }
    const queried = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => [...t.expr.matchAll(/\b(pusa_[a-z_]+)/g)].map((m) => m[1] as string)),
    );

    expect(queried.length).toBeGreaterThan(0);
    for (const metric of queried) expect(exported, metric).toContain(metric.replace(/_(bucket|sum|count)$/, ''));
  });
});
