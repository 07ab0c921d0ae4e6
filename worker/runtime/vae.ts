import { type Tensor, tensor } from '../../sampler/index.ts';
import type { Manifest } from './manifest.ts';
import type { ModelSession } from './sessions.ts';

/**
 * VAE encode and decode with the pack's latent normalisation: the graphs work on raw latents, the sampler on
 * `z = (μ − mean) / std` per channel (reference §B.2).
 */
export interface Vae {
  /** `[1, 3, T, H, W]` video in [−1, 1], T = 1 + 4k → `[1, C, 1 + k, H/8, W/8]` normalised latents. */
  encode(video: Tensor): Promise<Tensor>;
  /** `[1, C, F, h, w]` normalised latents → `[1, 3, 1 + 4(F − 1), H, W]` video in [−1, 1]. */
  decode(latents: Tensor): Promise<Tensor>;
}

export function createVae(encoder: ModelSession, decoder: ModelSession, latent: Manifest['latent']): Vae {
  const { mean, std } = latent;
  const perChannel = (
    src: Float32Array,
    dims: readonly number[],
    fn: (v: number, c: number) => number,
  ): Float32Array => {
    const [, channels = 0, frames = 0, height = 0, width = 0] = dims;
    const plane = frames * height * width;
    const out = new Float32Array(src.length);
    for (let c = 0; c < channels; c++) {
      for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = fn(src[i] as number, c);
    }
    return out;
  };
  return {
    async encode(video) {
      const out = await encoder.run({ video: { data: video.data, dims: video.dims } });
      const mu = out['latent_mean'];
      if (mu === undefined) throw new Error('vae encoder returned no latent_mean');
      return tensor(
        perChannel(mu.data as Float32Array, mu.dims, (v, c) => (v - (mean[c] as number)) / (std[c] as number)),
        mu.dims,
      );
    },
    async decode(latents) {
      const raw = perChannel(latents.data, latents.dims, (v, c) => v * (std[c] as number) + (mean[c] as number));
      const out = await decoder.run({ latents: { data: raw, dims: latents.dims } });
      const video = out['video'];
      if (video === undefined) throw new Error('vae decoder returned no video');
      return tensor(video.data as Float32Array, video.dims);
    },
  };
}
