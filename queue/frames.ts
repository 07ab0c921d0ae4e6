/** Frames blob: width, height, count as uint16 ×3, then RGB bytes. */
export function packFrames(frames: { width: number; height: number; count: number; rgb: Uint8Array }): Uint8Array {
  const out = new Uint8Array(6 + frames.rgb.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, frames.width, true);
  view.setUint16(2, frames.height, true);
  view.setUint16(4, frames.count, true);
  out.set(frames.rgb, 6);
  return out;
}

export function unpackFrames(bytes: Uint8Array): { width: number; height: number; count: number; rgb: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint16(0, true);
  const height = view.getUint16(2, true);
  const count = view.getUint16(4, true);
  const rgb = bytes.subarray(6);
  if (rgb.length !== width * height * 3 * count)
    throw new RangeError(`frames blob holds ${rgb.length} bytes, expected ${width}×${height}×3×${count}`);
  return { width, height, count, rgb };
}
