import { createServer, type Server, type Socket } from 'node:net';

/**
 * A PostgreSQL server that asks every client for its password and refuses it, as a server with password auth does
 * (the local test server trusts everyone, so a wrong password would be accepted there). Speaks just enough of the
 * protocol (v3): SSL request → 'N'; startup → AuthenticationCleartextPassword; password → FATAL 28P01.
 */
export async function startPasswordRefuser(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        // Before startup, messages have no type byte: int32 length, int32 code.
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code === 80877103 || code === 80877104) {
            socket.write('N'); // no SSL, no GSS encryption
            continue;
          }
          started = true;
          socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // 'R', AuthenticationCleartextPassword
          continue;
        }
        if (buffer.length < 5) return;
        const length = buffer.readInt32BE(1);
        if (buffer.length < length + 1) return;
        buffer = buffer.subarray(length + 1);
        const fields = ['SFATAL', 'VFATAL', 'C28P01', 'Mpassword authentication failed for user "pusa"']
          .map((f) => `${f}\0`)
          .join('');
        const body = Buffer.from(`${fields}\0`, 'utf8');
        const header = Buffer.alloc(5);
        header.write('E', 0);
        header.writeInt32BE(body.length + 4, 1);
        socket.end(Buffer.concat([header, body]));
        return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
