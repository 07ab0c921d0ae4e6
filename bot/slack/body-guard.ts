import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBounded } from '../http-body.ts';

/** Slack's own requests are a few kilobytes; a modal submission with every field filled stays far under this. */
export const SLACK_MAX_BODY_BYTES = 1 << 20;
const STALE_SECONDS = 5 * 60;

/**
 * Reads a Slack request's body for Bolt, bounded, after the cheap checks: no signature headers, or a timestamp
 * outside Slack's five minutes, is refused (401) before one byte of the body is read; a body past `maxBytes` is
 * refused (413) as soon as it is, by its Content-Length or while it streams. Without this Bolt buffers any body in
 * full before checking the signature: one unsigned 200 MB POST took the bot from 221 MB to 830 MB ([13] finding 1).
 * Resolves true with `rawBody` set (Bolt uses a buffered body as it is), false when it answered the request itself.
 */
export async function readSlackBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes = SLACK_MAX_BODY_BYTES,
): Promise<boolean> {
  const refuse = (status: number, text: string) => {
    if (!res.headersSent) {
      res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
      res.end(text);
    }
    req.destroy();
    return false;
  };
  if (req.method !== 'POST') return true;
  const signature = req.headers['x-slack-signature'];
  const timestamp = Number(req.headers['x-slack-request-timestamp']);
  if (typeof signature !== 'string' || !Number.isFinite(timestamp))
    return refuse(401, 'missing Slack signature headers');
  if (Math.abs(Date.now() / 1000 - timestamp) > STALE_SECONDS) return refuse(401, 'stale Slack request timestamp');
  let body: Buffer | undefined;
  try {
    body = await readBounded(req, maxBytes);
  } catch {
    return refuse(400, 'request body could not be read');
  }
  if (body === undefined) return refuse(413, `request body over ${maxBytes} bytes`);
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
  return true;
}
