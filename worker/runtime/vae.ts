import type { Manifest } from '../../pack/manifest.ts';
import { type Tensor, tensor } from '../../sampler/index.ts';
import type { HostTensor, ModelSession } from './sessions.ts';
import {
  createTileAccumulator,
  cropSpatial,
  fitsOneTile,
  planDecodeTiles,
  planEncodeTiles,
  type TileAccumulator,
  type TilePlan,
  tileMask,
  type VaeTiling,
} from './vae-tiles.ts';

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

/**
 * `tiling` (manifest `vaeTiling`) makes encode and decode go tile by tile, one graph call per tile in sequence, when
 * the input is larger than one tile (spec §A.6); without it, or when the input fits in one tile, each is one call
 * over whole frames.
 */
export function createVae(
  encoder: ModelSession,
  decoder: ModelSession,
  latent: Manifest['latent'],
  tiling?: VaeTiling,
): Vae {
  const { mean, std, spatialFactor } = latent;
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
  const encodeRaw = async (video: HostTensor): Promise<HostTensor> => {
    const out = await encoder.run({ video });
    const mu = out['latent_mean'];
    if (mu === undefined) throw new Error('vae encoder returned no latent_mean');
    return mu;
  };
  const decodeRaw = async (latents: HostTensor): Promise<HostTensor> => {
    const out = await decoder.run({ latents });
    const video = out['video'];
    if (video === undefined) throw new Error('vae decoder returned no video');
    return video;
  };
  return {
    async encode(video) {
      const [, , , height = 0, width = 0] = video.dims;
      const whole =
        tiling === undefined ||
        fitsOneTile(height, width, [tiling.tile[0] * spatialFactor, tiling.tile[1] * spatialFactor]);
      const mu = whole
        ? await encodeRaw({ data: video.data, dims: video.dims })
        : await runTiles(planEncodeTiles(height, width, tiling, spatialFactor), video, encodeRaw, 'vae encoder');
      // Tiles are blended on raw latents and normalised once; the reference normalises each tile and then blends,
      // which is the same affine map applied before a weighted mean (equal up to rounding).
      return tensor(
        perChannel(mu.data as Float32Array, mu.dims, (v, c) => (v - (mean[c] as number)) / (std[c] as number)),
        mu.dims,
      );
    },
    async decode(latents) {
      const raw = perChannel(latents.data, latents.dims, (v, c) => v * (std[c] as number) + (mean[c] as number));
      const [, , , height = 0, width = 0] = latents.dims;
      const video =
        tiling === undefined || fitsOneTile(height, width, tiling.tile)
          ? await decodeRaw({ data: raw, dims: latents.dims })
          : await runTiles(
              planDecodeTiles(height, width, tiling, spatialFactor),
              { data: raw, dims: latents.dims },
              decodeRaw,
              'vae decoder',
              1,
            );
      return tensor(video.data as Float32Array, video.dims);
    },
  };
}

/**
 * Runs `run` on each tile of `plan` in turn (one tile's activations at a time) and blends the outputs. Tiles are
 * cut from `input` `[1, C, frames, h, w]`; every output is `[1, C', frames', rows, cols]` with the same C' and
 * frames'. `clamp` clamps the blended result to `[−clamp, clamp]` (decode does, like the reference; encode does not).
 */
async function runTiles(
  plan: TilePlan,
  input: { readonly data: Float32Array; readonly dims: readonly number[] },
  run: (tile: HostTensor) => Promise<HostTensor>,
  label: string,
  clamp?: number,
): Promise<HostTensor> {
  const [batch = 0, channels = 0, frames = 0] = input.dims;
  if (batch !== 1) throw new RangeError(`${label}: tiling needs batch 1, got ${batch}`);
  const last = plan.tiles.at(-1);
  if (last === undefined) throw new RangeError(`${label}: no tiles for [${input.dims.join(', ')}]`);
  const height = last.output.h1;
  const width = last.output.w1;
  let blend: { accumulator: TileAccumulator; channels: number; frames: number } | undefined;
  for (const tile of plan.tiles) {
    const { h0, h1, w0, w1 } = tile.input;
    const out = await run({
      data: cropSpatial(input.data, input.dims, tile.input),
      dims: [1, channels, frames, h1 - h0, w1 - w0],
    });
    const [, outChannels = 0, outFrames = 0, rows = 0, cols = 0] = out.dims;
    const wantRows = tile.output.h1 - tile.output.h0;
    const wantCols = tile.output.w1 - tile.output.w0;
    if (rows !== wantRows || cols !== wantCols)
      throw new RangeError(
        `${label}: tile [${h0}:${h1}, ${w0}:${w1}] gave ${rows}×${cols}, expected ${wantRows}×${wantCols}`,
      );
    blend ??= {
      accumulator: createTileAccumulator(outChannels * outFrames, height, width),
      channels: outChannels,
      frames: outFrames,
    };
    if (blend.channels !== outChannels || blend.frames !== outFrames)
      throw new RangeError(
        `${label}: tiles disagree on channels×frames: ${blend.channels}×${blend.frames} vs ${outChannels}×${outFrames}`,
      );
    blend.accumulator.add(tile, out.data as Float32Array, tileMask(tile, plan.border));
  }
  if (blend === undefined) throw new RangeError(`${label}: no tile output`);
  return { data: blend.accumulator.finish(clamp), dims: [1, blend.channels, blend.frames, height, width] };
}
