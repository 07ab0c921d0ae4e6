import type { IncomingMessage } from 'node:http';

/**
 * A request body read up to `limit` bytes: undefined as soon as it is known to be larger — by its Content-Length
 * before a byte is read, or while it streams — so no receiver buffers more than its limit. Rejects when the stream
 * breaks.
 */
export async function readBounded(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
