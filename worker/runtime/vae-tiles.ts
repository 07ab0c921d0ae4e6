/**
 * Spatial tiling of VAE encode and decode, as the reference does it (spec §A.6 "Tiling"): the clip is cut into
 * overlapping spatial tiles (every tile holds all frames), each tile goes through the VAE on its own, and the
 * outputs are blended with linear ramps over the overlaps. Pure functions over flat float32 buffers; no I/O.
 *
 * Units: a tiling is given in latents (`tile`, `stride`). Decode plans in latents and writes pixels; encode plans in
 * pixels (tile and stride times the spatial factor) and writes latents. Boxes are half-open and clipped to the
 * image; which sides touch the image border is kept separately, because the reference decides that on the
 * unclipped tile.
 */
import type { Manifest } from '../../pack/manifest.ts';

/** Tile size and stride in latents, `[height, width]` each (manifest `vaeTiling`). */
export interface VaeTiling {
  readonly tile: readonly [number, number];
  readonly stride: readonly [number, number];
}

/** The reference's tiles (spec §A.6): 240×416 pixels with half-tile strides, 3×3 tiles at 480×832. */
export const REFERENCE_VAE_TILING: VaeTiling = { tile: [30, 52], stride: [15, 26] };

/**
 * The tiling a worker decodes with: the pack's own, or the reference's when a memory profile asks for bounded
 * decoder calls (worker/runtime/memory-profile.ts) — unless the pack's decoder has a fixed height/width, which
 * cannot take a tile (a small pack like pusa-mini decodes whole, and is small anyway).
 */
export function effectiveVaeTiling(
  manifest: Pick<Manifest, 'vaeTiling' | 'files'>,
  choice: 'pack' | 'reference',
): VaeTiling | undefined {
  if (choice === 'pack') return manifest.vaeTiling;
  const [, , , height, width] = manifest.files.vaeDecoder.inputs[0]?.shape ?? [];
  return typeof height === 'number' || typeof width === 'number' ? manifest.vaeTiling : REFERENCE_VAE_TILING;
}

/** A half-open box `[h0, h1) × [w0, w1)`. */
export interface Box {
  readonly h0: number;
  readonly h1: number;
  readonly w0: number;
  readonly w1: number;
}

/** Sides of a tile that lie on the image border: no ramp is applied there. */
export interface TileEdges {
  readonly top: boolean;
  readonly bottom: boolean;
  readonly left: boolean;
  readonly right: boolean;
}

/** One tile: what to cut from the VAE's input and where its output goes. */
export interface Tile {
  /** Box in the input's units (latents for decode, pixels for encode), clipped to the input. */
  readonly input: Box;
  /** Matching box in the output's units (pixels for decode, latents for encode). */
  readonly output: Box;
  readonly edges: TileEdges;
}

/** A plan: the tiles in the reference's order (rows outer, columns inner) and the ramp width in output units. */
export interface TilePlan {
  readonly tiles: readonly Tile[];
  /** `[height, width]` of the blending ramps, in output units. */
  readonly border: readonly [number, number];
}

/**
 * Start positions along one axis, the reference rule: candidates `0, stride, 2·stride, … < length`, where a
 * candidate is skipped when the tile before it (at `start − stride`) already reaches the end.
 */
export function tileStarts(length: number, size: number, stride: number): number[] {
  checkAxis(size, stride);
  const starts: number[] = [];
  for (let start = 0; start < length; start += stride) {
    if (start - stride >= 0 && start - stride + size >= length) continue;
    starts.push(start);
  }
  return starts;
}

/**
 * Whether an input `height × width` fits in one tile of `tile` (same units): then the reference rule plans exactly
 * one tile, with every side on the border (a weight of 1 everywhere), which is the same as one whole call.
 */
export function fitsOneTile(height: number, width: number, tile: readonly [number, number]): boolean {
  return height <= tile[0] && width <= tile[1];
}

/**
 * Decode tiles for a latent grid `height × width`: `tile`/`stride` in latents, output boxes in pixels
 * (× `factor`), ramps `(tile − stride)·factor` pixels wide. A grid no larger than one tile gives a single tile
 * with every side on the border (a weight of 1 everywhere: the same as one whole call).
 */
export function planDecodeTiles(height: number, width: number, tiling: VaeTiling, factor: number): TilePlan {
  const [tileH, tileW] = tiling.tile;
  const [strideH, strideW] = tiling.stride;
  return {
    tiles: plan(height, width, tileH, tileW, strideH, strideW, (v) => v * factor),
    border: [(tileH - strideH) * factor, (tileW - strideW) * factor],
  };
}

/**
 * Encode tiles for a video `height × width` in pixels (multiples of `factor`): tile and stride are the latent
 * tiling times `factor`, output boxes in latents (÷ `factor`), ramps `tile − stride` latents wide.
 */
export function planEncodeTiles(height: number, width: number, tiling: VaeTiling, factor: number): TilePlan {
  if (height % factor !== 0 || width % factor !== 0)
    throw new RangeError(`tiled VAE encode needs a size that is a multiple of ${factor}, got ${width}×${height}`);
  const [tileH, tileW] = tiling.tile;
  const [strideH, strideW] = tiling.stride;
  return {
    tiles: plan(height, width, tileH * factor, tileW * factor, strideH * factor, strideW * factor, (v) => v / factor),
    // The reference computes `(size − stride) // 8` on pixel sizes: exact here, both are multiples of `factor`.
    border: [tileH - strideH, tileW - strideW],
  };
}

function plan(
  height: number,
  width: number,
  tileH: number,
  tileW: number,
  strideH: number,
  strideW: number,
  scale: (v: number) => number,
): Tile[] {
  const tiles: Tile[] = [];
  for (const h0 of tileStarts(height, tileH, strideH)) {
    for (const w0 of tileStarts(width, tileW, strideW)) {
      const h1 = Math.min(h0 + tileH, height);
      const w1 = Math.min(w0 + tileW, width);
      tiles.push({
        input: { h0, h1, w0, w1 },
        output: { h0: scale(h0), h1: scale(h1), w0: scale(w0), w1: scale(w1) },
        edges: { top: h0 === 0, bottom: h0 + tileH >= height, left: w0 === 0, right: w0 + tileW >= width },
      });
    }
  }
  return tiles;
}

function checkAxis(size: number, stride: number): void {
  if (!Number.isInteger(size) || !Number.isInteger(stride) || stride < 1 || size <= stride)
    throw new RangeError(`a VAE tile needs integer sizes with 0 < stride < tile, got tile ${size}, stride ${stride}`);
}

/**
 * One axis of the blending mask: 1 everywhere, then, unless that end is on the image border, a ramp
 * `(i + 1)/border` rising over the first `border` values and the same ramp falling over the last `border` values
 * (the falling ramp is written second, so it wins where the two would overlap, as in the reference).
 */
export function rampMask(length: number, border: number, startOnBorder: boolean, endOnBorder: boolean): Float32Array {
  const mask = new Float32Array(length).fill(1);
  if (startOnBorder && endOnBorder) return mask;
  if (length < border) throw new RangeError(`a tile of ${length} is shorter than its ramp of ${border}`);
  if (!startOnBorder) for (let i = 0; i < border; i++) mask[i] = (i + 1) / border;
  if (!endOnBorder) for (let i = 0; i < border; i++) mask[length - 1 - i] = (i + 1) / border;
  return mask;
}

/**
 * The 2-D weight of one tile, `[rows × cols]` row-major in output units: the minimum of the row ramp and the
 * column ramp (the reference stacks both and takes the minimum, not the product).
 */
export function tileMask(tile: Tile, border: readonly [number, number]): Float32Array {
  const rows = tile.output.h1 - tile.output.h0;
  const cols = tile.output.w1 - tile.output.w0;
  const byRow = rampMask(rows, border[0], tile.edges.top, tile.edges.bottom);
  const byCol = rampMask(cols, border[1], tile.edges.left, tile.edges.right);
  const mask = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const wr = byRow[r] as number;
    for (let c = 0; c < cols; c++) mask[r * cols + c] = Math.min(wr, byCol[c] as number);
  }
  return mask;
}

/**
 * Copies the spatial box `box` out of a `[..., height, width]` buffer (every leading index kept): the VAE input of
 * one tile.
 */
export function cropSpatial(data: Float32Array, dims: readonly number[], box: Box): Float32Array {
  const height = dims.at(-2) ?? 0;
  const width = dims.at(-1) ?? 0;
  const planes = data.length / (height * width);
  const rows = box.h1 - box.h0;
  const cols = box.w1 - box.w0;
  const out = new Float32Array(planes * rows * cols);
  for (let p = 0; p < planes; p++) {
    for (let r = 0; r < rows; r++) {
      const from = (p * height + box.h0 + r) * width + box.w0;
      out.set(data.subarray(from, from + cols), (p * rows + r) * cols);
    }
  }
  return out;
}

/**
 * Weighted sum of tile outputs: `values += tile·mask`, `weight += mask` over each tile's output box, then
 * `values / weight`. Accumulates in float32 (our graphs output float32); the reference keeps both buffers in the
 * latent dtype, bf16 for the 14B pipeline, so its sums are rounded more coarsely than ours. The weight is one
 * `[height × width]` plane: the reference's weight has a frame axis too, but the mask is the same for every frame.
 */
export interface TileAccumulator {
  /** Adds one tile output `[planes, rows, cols]` (planes = channels·frames) with its mask `[rows × cols]`. */
  add(tile: Tile, data: Float32Array, mask: Float32Array): void;
  /** Divides by the weight (in place) and optionally clamps to `[−limit, limit]`; returns `[planes, H, W]`. */
  finish(clamp?: number): Float32Array;
}

export function createTileAccumulator(planes: number, height: number, width: number): TileAccumulator {
  const values = new Float32Array(planes * height * width);
  const weight = new Float32Array(height * width);
  return {
    add(tile, data, mask) {
      const { h0, h1, w0, w1 } = tile.output;
      const rows = h1 - h0;
      const cols = w1 - w0;
      if (data.length !== planes * rows * cols || mask.length !== rows * cols)
        throw new RangeError(
          `tile output of ${data.length} values (mask ${mask.length}) does not fit ${planes}×${rows}×${cols}`,
        );
      for (let r = 0; r < rows; r++) {
        const at = (h0 + r) * width + w0;
        for (let c = 0; c < cols; c++) weight[at + c] = (weight[at + c] as number) + (mask[r * cols + c] as number);
      }
      for (let p = 0; p < planes; p++) {
        for (let r = 0; r < rows; r++) {
          const at = (p * height + h0 + r) * width + w0;
          const from = (p * rows + r) * cols;
          for (let c = 0; c < cols; c++)
            values[at + c] = (values[at + c] as number) + (data[from + c] as number) * (mask[r * cols + c] as number);
        }
      }
    },
    finish(clamp) {
      const plane = height * width;
      for (let p = 0; p < planes; p++) {
        for (let i = 0; i < plane; i++) {
          let v = (values[p * plane + i] as number) / (weight[i] as number);
          if (clamp !== undefined) v = Math.min(Math.max(v, -clamp), clamp);
          values[p * plane + i] = v;
        }
      }
      return values;
    },
  };
}
