import { readFile, writeFile } from 'node:fs/promises';
import { type Tensor, tensor } from '../sampler/index.ts';
import { MediaError } from './errors.ts';

const MAGIC = Buffer.from('PUSALAT1', 'ascii');

/** What a sidecar records beside the latents, enough to continue a clip exactly and to refuse a foreign one. */
export interface SidecarHeader {
  readonly model: { name: string; version: string };
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly task: string;
  readonly prompt: string;
  readonly seed: number;
}

/** The sidecar of a clip: `clip.mp4` → `clip.latents`. */
export function sidecarPathFor(mp4Path: string): string {
  return `${mp4Path.replace(/\.mp4$/i, '')}.latents`;
}

/**
 * Writes the final latents of a clip: `PUSALAT1`, a uint32 header length, a JSON header (dims and provenance), then
 * the float32 values little-endian. A few hundred KB for pusa-mini; it lets extend and transition continue a clip
 * without a lossy VAE round trip through H.264.
 */
export async function writeSidecar(path: string, latents: Tensor, header: SidecarHeader): Promise<void> {
  await writeFile(path, encodeSidecar(latents, header));
}

/** The sidecar's bytes, for storing elsewhere than a file (a Redis blob between worker and bot). */
export function encodeSidecar(latents: Tensor, header: SidecarHeader): Buffer {
  const json = Buffer.from(JSON.stringify({ ...header, dims: latents.dims }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  const values = Buffer.from(latents.data.buffer, latents.data.byteOffset, latents.data.byteLength);
  return Buffer.concat([MAGIC, length, json, values]);
}

/** Reads a sidecar written by {@link writeSidecar}; anything else is a clear error. */
export async function readSidecar(path: string): Promise<{ header: SidecarHeader; latents: Tensor }> {
  return decodeSidecar(await readFile(path), path);
}

/** Parses sidecar bytes; `path` only labels errors. */
export function decodeSidecar(bytes: Buffer, path = 'the latents'): { header: SidecarHeader; latents: Tensor } {
  if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MAGIC))
    throw new MediaError('Corrupt', `${path} is not a pusa-bot latents file`);
  const length = bytes.readUInt32LE(8);
  let parsed: SidecarHeader & { dims: number[] };
  try {
    parsed = JSON.parse(bytes.subarray(12, 12 + length).toString('utf8')) as SidecarHeader & { dims: number[] };
  } catch (error) {
    throw new MediaError('Corrupt', `${path} has an unreadable header`, { cause: error });
  }
  const body = bytes.subarray(12 + length);
  const count = parsed.dims.reduce((a, b) => a * b, 1);
  if (body.length !== count * 4)
    throw new MediaError(
      'Corrupt',
      `${path} is truncated: expected ${count * 4} bytes of latents, found ${body.length}`,
    );
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(body);
  const { dims, ...header } = parsed;
  return { header, latents: tensor(data, dims) };
}
