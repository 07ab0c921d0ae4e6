import { Redis } from 'ioredis';

/** The URL with its password (and user name) replaced, for anything printed or logged. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    if (parsed.username !== '' && parsed.username !== 'default') parsed.username = '***';
    return parsed.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/**
 * Connects once, before a process builds its queues on Redis: a wrong password or an unreachable server ends the
 * start with one line naming the (redacted) URL and the fix, instead of a crash whose dump shows the `AUTH` command
 * with the password in it, or a process that says "ready" and then logs the same error forever. Resolves undefined
 * when Redis answered PING; otherwise the line.
 */
export async function redisProblem(url: string, timeoutMs = 5_000): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
  });
  // The server's own reply (WRONGPASS, ECONNREFUSED) arrives as an 'error' event; connect() then only says closed.
  let seen: Error | undefined;
  client.on('error', (error: Error) => {
    seen ??= error;
  });
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    const message = (seen ?? (error as Error)).message ?? String(error);
    const where = `Redis at ${redactRedisUrl(url)}`;
    if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(message))
      return `${where} refused the user name or password in REDIS_URL (${message.split(' ')[0]}); correct REDIS_URL`;
    if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|connect/i.test(message))
      return `${where} is not reachable (${message.replace(url, redactRedisUrl(url))}); start Redis or correct REDIS_URL`;
    return `${where} did not answer PING: ${message.replace(url, redactRedisUrl(url))}`;
  } finally {
    client.disconnect();
  }
}
