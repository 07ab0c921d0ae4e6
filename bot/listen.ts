import type { Server } from 'node:http';

/** Listens, resolving once bound; a busy or forbidden port rejects instead of surfacing as an unhandled 'error'. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * The one line an operator needs when a port cannot be bound: which one, why, and the setting that moves it.
 * Undefined for any other error, which should surface as it is.
 */
export function listenProblem(
  error: unknown,
  where: { setting: string; host: string; port: number },
): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return undefined;
  const why =
    code === 'EADDRINUSE'
      ? 'another program is using it'
      : code === 'EACCES'
        ? 'not allowed to use that port'
        : 'that address is not on this host';
  return `cannot listen on ${where.host}:${where.port} (${why}); set ${where.setting} to another port (0 picks a free one)`;
}
