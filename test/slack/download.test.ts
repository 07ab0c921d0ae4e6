import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadSlackFile } from '../../bot/slack/download.ts';

describe('downloadSlackFile', () => {
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/login') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>');
      else if (req.url === '/big') {
        // No content-length: the limit must hold while streaming.
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(Buffer.alloc(600));
        res.end(Buffer.alloc(600));
      } else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end('late'), 2000);
      else res.writeHead(200, { 'content-type': 'image/png' }).end(req.headers.authorization ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  const limits = () => ({ origins: [origin], maxBytes: 1000, timeoutMs: 500 });
  const file = (path: string) => ({ name: 'cat.png', mimetype: 'image/png', url_private_download: `${origin}${path}` });

  it('sends the bot token and returns the bytes', async () => {
    const bytes = await downloadSlackFile(fetch, file('/ok'), 'xoxb-1', limits());

    expect(bytes.toString()).toBe('Bearer xoxb-1');
  });

  it.each([
    [
      'a host that is not Slack',
      () => ({ ...file('/ok'), url_private_download: 'http://203.0.113.9/x.png' }),
      /not a Slack file/,
    ],
    ['a login page instead of the bytes', () => file('/login'), /login page/],
    ['a body over the limit while streaming', () => file('/big'), /over 0\.0 MB/],
    ['a declared size over the limit', () => ({ ...file('/ok'), size: 5000 }), /at most/],
    ['a file that is not an image', () => ({ ...file('/ok'), mimetype: 'application/pdf' }), /not an image/],
    ['a transfer slower than the time limit', () => file('/slow'), /took over 0.5 s/],
  ])('refuses %s with a user error', async (_what, input, message) => {
    await expect(downloadSlackFile(fetch, input(), 'xoxb-1', limits())).rejects.toThrow(message);
  });
});
