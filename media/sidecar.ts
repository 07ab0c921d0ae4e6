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

/** Most values a sidecar may hold: 64 M floats (256 MiB), far above any clip's latents; a bigger count is damage. */
const MAX_VALUES = 64 * 1024 * 1024;

/**
 * Parses sidecar bytes; `path` only labels errors. Everything is checked before it is used, so a truncated or
 * otherwise damaged file is a MediaError('Corrupt') naming what is wrong, never a TypeError or latents of garbage:
 * the header's length fits the file, the header is an object with dims (1–8 positive integers) and a model, the
 * values are exactly as many as the dims say, and every value is finite.
 */
export function decodeSidecar(bytes: Buffer, path = 'the latents'): { header: SidecarHeader; latents: Tensor } {
  if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MAGIC))
    throw new MediaError('Corrupt', `${path} is not a pusa-bot latents file`);
  const length = bytes.readUInt32LE(8);
  if (12 + length > bytes.length)
    throw new MediaError(
      'Corrupt',
      `${path} is truncated: its header needs ${length} bytes, found ${bytes.length - 12}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.subarray(12, 12 + length).toString('utf8'));
  } catch (error) {
    throw new MediaError('Corrupt', `${path} has an unreadable header`, { cause: error });
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const dims = record['dims'];
  const model = record['model'] as { name?: unknown; version?: unknown } | null | undefined;
  if (
    !Array.isArray(dims) ||
    dims.length < 1 ||
    dims.length > 8 ||
    !dims.every((d) => Number.isSafeInteger(d) && (d as number) > 0) ||
    typeof model !== 'object' ||
    model === null ||
    typeof model.name !== 'string' ||
    typeof model.version !== 'string'
  )
    throw new MediaError('Corrupt', `${path} has a damaged header (dims or model missing or invalid)`);
  const count = (dims as number[]).reduce((a, b) => a * b, 1);
  const body = bytes.subarray(12 + length);
  if (count > MAX_VALUES || body.length !== count * 4)
    throw new MediaError(
      'Corrupt',
      `${path} is truncated: expected ${count * 4} bytes of latents, found ${body.length}`,
    );
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(body);
  for (let i = 0; i < count; i += 1)
    if (!Number.isFinite(data[i])) throw new MediaError('Corrupt', `${path} holds a value that is not a number`);
  const { dims: _dims, ...header } = record;
  return { header: header as unknown as SidecarHeader, latents: tensor(data, dims as number[]) };
}
