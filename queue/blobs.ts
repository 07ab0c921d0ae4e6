import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Default life of stored inputs and results: long enough for a queue backlog and a slow delivery. */
export const BLOB_TTL_SECONDS = 24 * 60 * 60;

/**
 * Large job inputs and results (normalised images, latents, MP4s) as their own Redis keys with a time-to-live, so
 * job payloads stay small and a worker host needs nothing but Redis, the model pack and a GPU.
 */
export interface BlobStore {
  put(kind: 'image' | 'latents' | 'mp4' | 'frames', bytes: Uint8Array, ttlSeconds?: number): Promise<string>;
  /** The bytes, or `undefined` when the key expired or never existed. */
  get(key: string): Promise<Buffer | undefined>;
  delete(...keys: string[]): Promise<void>;
  /** Whether every key still holds its bytes (without reading them). */
  hasAll(...keys: string[]): Promise<boolean>;
}

export function createBlobStore(redis: Redis, prefix = 'pusa:blob'): BlobStore {
  return {
    async put(kind, bytes, ttlSeconds = BLOB_TTL_SECONDS) {
      const key = `${prefix}:${kind}:${randomUUID()}`;
      await redis.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', ttlSeconds);
      return key;
    },
    async get(key) {
      if (!key.startsWith(`${prefix}:`)) return undefined;
      return (await redis.getBuffer(key)) ?? undefined;
    },
    async delete(...keys) {
      const own = keys.filter((k) => k.startsWith(`${prefix}:`));
      if (own.length > 0) await redis.del(...own);
    },
    async hasAll(...keys) {
      if (keys.length === 0) return true;
      if (!keys.every((k) => k.startsWith(`${prefix}:`))) return false;
      return (await redis.exists(...keys)) === keys.length;
    },
  };
}

/** An image blob: width and height as two uint16, then the RGB bytes. */
export function packImage(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + rgb.length);
  new DataView(out.buffer).setUint16(0, width, true);
  new DataView(out.buffer).setUint16(2, height, true);
  out.set(rgb, 4);
  return out;
}

export function unpackImage(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint16(0, true);
  const height = view.getUint16(2, true);
  const rgb = bytes.subarray(4);
  if (rgb.length !== width * height * 3)
    throw new RangeError(`image blob holds ${rgb.length} bytes, expected ${width}×${height}×3`);
  return { width, height, rgb };
}
