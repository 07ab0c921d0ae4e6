import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { FrontDoor } from './front-door.ts';
import { listen } from './listen.ts';

/**
 * The bot host's health (`GET /`: 200 when the database and the queue answer, else 503) and Prometheus metrics
 * (`GET /metrics`: process metrics and generate jobs by state) on one small HTTP server.
 */
export async function startHealth(service: Pick<FrontDoor, 'frontEnd'>, options: { host: string; port: number }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'pusa_queue_jobs',
    help: 'generate jobs by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await service.frontEnd.operator.queueCounts();
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  const server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    const { database, queue } = await service.frontEnd.operator.health();
    const ok = database && queue;
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok, database, queue }));
  });
  await listen(server, options.port, options.host);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}
