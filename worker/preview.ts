import type { Manifest } from '../pack/manifest.ts';
import type { Tensor } from '../sampler/index.ts';

/**
 * A cheap progress preview: one latent frame projected to RGB with the pack's linear latent→RGB fit, at latent
 * resolution (16×16 for pusa-mini), no VAE call. Returns interleaved RGB bytes.
 */
export function latentPreview(
  latents: Tensor,
  projection: Manifest['preview']['latentToRgb'],
  frame?: number,
): { width: number; height: number; rgb: Uint8Array } {
  const [, channels = 0, frames = 0, height = 0, width = 0] = latents.dims;
  const f = frame ?? Math.floor(frames / 2);
  const plane = height * width;
  const rgb = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const weights = projection.weights[c] as number[];
      let v = projection.bias[c] as number;
      for (let k = 0; k < channels; k++)
        v += (weights[k] as number) * (latents.data[(k * frames + f) * plane + i] as number);
      const byte = (v + 1) * 127.5;
      rgb[i * 3 + c] = byte <= 0 ? 0 : byte >= 255 ? 255 : Math.round(byte);
    }
  }
  return { width, height, rgb };
}
