/**
 * bfloat16 rounding emulated on float32 bit patterns (round to nearest, ties to even), the same conversion as
 * torch's `.to(torch.bfloat16)`. The reference keeps timesteps, initial noise and condition latents in bf16, so
 * parity needs the exact rounding, not an approximation.
 */
const scalarF32 = new Float32Array(1);
const scalarU32 = new Uint32Array(scalarF32.buffer);

/** Rounds `x` to float32, then to the nearest bfloat16, and returns it as a number. NaN stays NaN. */
export function toBf16(x: number): number {
  scalarF32[0] = x;
  const bits = scalarU32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return Number.NaN;
  scalarU32[0] = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  return scalarF32[0]!;
}

/**
 * Rounds every element of `src` to bfloat16 and writes it to `dst` (which may be `src`). Works on the raw bits of
 * the whole array at once: this runs on every model call for a 2-million-element latent, so it avoids the scalar path.
 */
export function roundToBf16(src: Float32Array, dst: Float32Array = src): Float32Array {
  if (dst.length !== src.length)
    throw new RangeError(`bf16 rounding needs equal lengths, got ${src.length} and ${dst.length}`);
  const inBits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const outBits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < inBits.length; i++) {
    const bits = inBits[i]!;
    // NaN payloads could round into infinity; keep them NaN.
    outBits[i] =
      (bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0
        ? bits | 0x00400000
        : (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  }
  return dst;
}
