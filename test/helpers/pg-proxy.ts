import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** A TCP proxy to the PostgreSQL server that can be cut and restored, like a brief network or server outage. */
export function pgProxy(target: { host: string; port: number }) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    port: 0,
    async start(port = 0): Promise<number> {
      server = createServer((client) => {
        const upstream = tcpConnect(target.port, target.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
      this.port = (server.address() as { port: number }).port;
      return this.port;
    },
    async cut(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    },
  };
}
