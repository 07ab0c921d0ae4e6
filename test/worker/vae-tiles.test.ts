import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../pack/manifest.ts';
import { randn, tensor } from '../../sampler/index.ts';
import type { HostTensor, ModelSession } from '../../worker/runtime/sessions.ts';
import { createVae } from '../../worker/runtime/vae.ts';
import {
  createTileAccumulator,
  fitsOneTile,
  planDecodeTiles,
  planEncodeTiles,
  rampMask,
  type Tile,
  tileMask,
  tileStarts,
  type VaeTiling,
} from '../../worker/runtime/vae-tiles.ts';

/** The pipeline default of the reference (spec §A.6): tile (30, 52), stride (15, 26) latents. */
const REFERENCE: VaeTiling = { tile: [30, 52], stride: [15, 26] };
const F8 = 8;

const starts = (tiles: readonly Tile[], axis: 'h' | 'w') =>
  [...new Set(tiles.map((t) => (axis === 'h' ? t.input.h0 : t.input.w0)))].sort((a, b) => a - b);

describe('tile plans (reference rule: starts range(0, n, stride), skipped when the previous tile reaches the end)', () => {
  it('cuts 720p latents (90×160) into 5×6 tiles', () => {
    const { tiles, border } = planDecodeTiles(90, 160, REFERENCE, F8);

    // rows: candidates 0,15,…,75; 75 is skipped (60+30 ≥ 90). cols: 0,26,…,156; 156 skipped (130+52 ≥ 160).
    expect(tiles).toHaveLength(30);
    expect(starts(tiles, 'h')).toEqual([0, 15, 30, 45, 60]);
    expect(starts(tiles, 'w')).toEqual([0, 26, 52, 78, 104, 130]);
    expect(border).toEqual([120, 208]);
    expect(tiles[0]).toEqual({
      input: { h0: 0, h1: 30, w0: 0, w1: 52 },
      output: { h0: 0, h1: 240, w0: 0, w1: 416 },
      edges: { top: true, bottom: false, left: true, right: false },
    });
    // The last column is clipped to the image: 130…160 latents, 1040…1280 px.
    expect(tiles[29]).toEqual({
      input: { h0: 60, h1: 90, w0: 130, w1: 160 },
      output: { h0: 480, h1: 720, w0: 1040, w1: 1280 },
      edges: { top: false, bottom: true, left: false, right: true },
    });
  });

  it('cuts 480p latents (60×104) into 3×3 tiles', () => {
    // rows: candidates 0,15,30,45; 45 is skipped because the tile at 30 ends at 60 ≥ 60 → 0,15,30.
    // cols: candidates 0,26,52,78; 78 is skipped because the tile at 52 ends at 104 ≥ 104 → 0,26,52.
    const { tiles } = planDecodeTiles(60, 104, REFERENCE, F8);

    expect(tiles.map((t) => [t.input.h0, t.input.h1, t.input.w0, t.input.w1])).toEqual([
      [0, 30, 0, 52],
      [0, 30, 26, 78],
      [0, 30, 52, 104],
      [15, 45, 0, 52],
      [15, 45, 26, 78],
      [15, 45, 52, 104],
      [30, 60, 0, 52],
      [30, 60, 26, 78],
      [30, 60, 52, 104],
    ]);
    expect(tiles[4]?.output).toEqual({ h0: 120, h1: 360, w0: 208, w1: 624 });
    expect(tiles[4]?.edges).toEqual({ top: false, bottom: false, left: false, right: false });
  });

  it('gives one whole-image tile, every side on the border, for a grid no larger than a tile', () => {
    for (const [h, w] of [
      [16, 16],
      [30, 52],
      [1, 1],
    ] as const) {
      const { tiles } = planDecodeTiles(h, w, REFERENCE, F8);
      expect(tiles).toEqual([
        {
          input: { h0: 0, h1: h, w0: 0, w1: w },
          output: { h0: 0, h1: h * 8, w0: 0, w1: w * 8 },
          edges: { top: true, bottom: true, left: true, right: true },
        },
      ]);
    }
    // One latent more than a tile needs a second, overlapping one.
    expect(tileStarts(31, 30, 15)).toEqual([0, 15]);
    // fitsOneTile (what the runtime checks before planning) agrees with the plan.
    for (let h = 1; h <= 70; h += 3)
      for (let w = 1; w <= 120; w += 7)
        expect(fitsOneTile(h, w, REFERENCE.tile)).toBe(planDecodeTiles(h, w, REFERENCE, F8).tiles.length === 1);
  });

  it('plans encode tiles in pixels (240×416, stride 120×208) with latent outputs and 15×26-latent ramps', () => {
    const { tiles, border } = planEncodeTiles(480, 832, REFERENCE, F8);

    expect(border).toEqual([15, 26]);
    expect(starts(tiles, 'h')).toEqual([0, 120, 240]);
    expect(starts(tiles, 'w')).toEqual([0, 208, 416]);
    expect(tiles[8]).toEqual({
      input: { h0: 240, h1: 480, w0: 416, w1: 832 },
      output: { h0: 30, h1: 60, w0: 52, w1: 104 },
      edges: { top: false, bottom: true, left: false, right: true },
    });
    expect(planEncodeTiles(720, 1280, REFERENCE, F8).tiles).toHaveLength(30);
    expect(planEncodeTiles(128, 128, REFERENCE, F8).tiles).toHaveLength(1);
    expect(() => planEncodeTiles(484, 832, REFERENCE, F8)).toThrow(/multiple of 8/);
  });

  it('refuses a stride that leaves no overlap', () => {
    expect(() => tileStarts(100, 30, 30)).toThrow(RangeError);
    expect(() => tileStarts(100, 30, 0)).toThrow(RangeError);
  });
});

describe('blending weights', () => {
  it('ramps (i+1)/border up at the start and down at the end, except on image borders', () => {
    expect([...rampMask(10, 4, false, false)]).toEqual([0.25, 0.5, 0.75, 1, 1, 1, 1, 0.75, 0.5, 0.25]);
    expect([...rampMask(6, 4, true, false)]).toEqual([1, 1, 1, 0.75, 0.5, 0.25]);
    expect([...rampMask(6, 4, false, true)]).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
    expect([...rampMask(3, 4, true, true)]).toEqual([1, 1, 1]);
    // Shorter than two ramps: the falling ramp is written last and wins, as in the reference.
    expect([...rampMask(6, 4, false, false)]).toEqual([0.25, 0.5, 1, 0.75, 0.5, 0.25]);
  });

  it('takes the minimum of the row and column ramps, with exact values at chosen pixels (480p, middle tile)', () => {
    const { tiles, border } = planDecodeTiles(60, 104, REFERENCE, F8);
    const middle = tiles[4] as Tile; // 240×416 px, ramps on all four sides: 120 px rows, 208 px columns
    const mask = tileMask(middle, border);
    const at = (r: number, c: number) => mask[r * 416 + c];

    expect(mask).toHaveLength(240 * 416);
    expect(at(0, 207)).toBe(Math.fround(1 / 120));
    expect(at(5, 207)).toBe(Math.fround(6 / 120));
    expect(at(239, 208)).toBe(Math.fround(1 / 120));
    expect(at(119, 0)).toBe(Math.fround(1 / 208));
    expect(at(60, 10)).toBe(Math.fround(11 / 208)); // min(61/120, 11/208)
    expect(at(119, 207)).toBe(1);
    expect(at(120, 208)).toBe(1);
  });

  it('is 1 on image borders and in the parts of a tile no other tile covers', () => {
    const { tiles, border } = planDecodeTiles(60, 104, REFERENCE, F8);
    const corner = tileMask(tiles[0] as Tile, border); // top-left: no ramp on top and left
    let plateau = true;
    for (let r = 0; r < 120; r++) for (let c = 0; c < 208; c++) plateau &&= corner[r * 416 + c] === 1;
    expect(plateau).toBe(true);
    expect(corner[0]).toBe(1);
    expect(corner[239 * 416 + 0]).toBe(Math.fround(1 / 120));
    const last = tileMask(tiles[8] as Tile, border); // bottom-right: no ramp on bottom and right
    expect(last[240 * 416 - 1]).toBe(1);
    expect(last[239 * 416]).toBe(Math.fround(1 / 208));
  });

  it('covers every pixel of 480p and 720p with a positive total weight', () => {
    for (const [h, w] of [
      [60, 104],
      [90, 160],
    ] as const) {
      const { tiles, border } = planDecodeTiles(h, w, REFERENCE, F8);
      const total = new Float64Array(h * 8 * w * 8);
      for (const tile of tiles) {
        const mask = tileMask(tile, border);
        const cols = tile.output.w1 - tile.output.w0;
        for (let r = tile.output.h0; r < tile.output.h1; r++)
          for (let c = tile.output.w0; c < tile.output.w1; c++)
            total[r * w * 8 + c] =
              (total[r * w * 8 + c] as number) + (mask[(r - tile.output.h0) * cols + c - tile.output.w0] as number);
      }
      expect(total.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY)).toBeGreaterThan(0);
    }
  });

  it('divides by the summed weight and clamps when asked', () => {
    const tile: Tile = {
      input: { h0: 0, h1: 1, w0: 0, w1: 2 },
      output: { h0: 0, h1: 1, w0: 0, w1: 2 },
      edges: { top: true, bottom: true, left: true, right: true },
    };
    const acc = createTileAccumulator(1, 1, 2);
    acc.add(tile, new Float32Array([4, -0.5]), new Float32Array([0.5, 1]));
    acc.add(tile, new Float32Array([1, -0.5]), new Float32Array([1.5, 1]));

    expect([...acc.finish(1)]).toEqual([1, -0.5]); // (4·0.5 + 1·1.5)/2 = 1.75 → clamped to 1
  });
});

/** A decoder fake that is translation-equivariant: latent pixel (y, x) of latent frame f gives an 8×8 block per
 * output frame of f, computed from that latent pixel alone, plus a pattern inside the block (so a misplaced tile
 * would show). Output T = 1 + 4(F − 1), values in (−1, 1). Also checks that tiles are run one at a time. */
function fakeDecoder(calls: number[][]): ModelSession {
  let inFlight = 0;
  return {
    label: 'fake vae decoder',
    async run(feeds) {
      inFlight++;
      if (inFlight > 1) throw new Error('tiles ran concurrently');
      await new Promise((resolve) => setTimeout(resolve, 0));
      const { data, dims } = feeds['latents'] as HostTensor;
      calls.push([...dims]);
      const [, channels = 0, frames = 0, h = 0, w = 0] = dims;
      const T = 1 + 4 * (frames - 1);
      const H = h * 8;
      const W = w * 8;
      const out = new Float32Array(3 * T * H * W);
      for (let c = 0; c < 3; c++)
        for (let t = 0; t < T; t++) {
          const f = t === 0 ? 0 : Math.floor((t - 1) / 4) + 1;
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++) {
              let s = 0.05 * ((y % 8) - (x % 8)) + 0.1 * (t % 4);
              for (let k = 0; k < channels; k++)
                s +=
                  (data[((k * frames + f) * h + (y >> 3)) * w + (x >> 3)] as number) * ((k + c) % 5 === 0 ? 0.3 : -0.1);
              out[((c * T + t) * H + y) * W + x] = Math.tanh(s);
            }
        }
      inFlight--;
      return { video: { data: out, dims: [1, 3, T, H, W] } };
    },
    release: async () => {},
  };
}

/** An encoder fake, translation-equivariant too: each 8×8 pixel block of each 4-frame group (frame 0 alone) gives
 * one latent pixel per channel. */
function fakeEncoder(calls: number[][]): ModelSession {
  return {
    label: 'fake vae encoder',
    async run(feeds) {
      const { data, dims } = feeds['video'] as HostTensor;
      calls.push([...dims]);
      const [, , T = 0, H = 0, W = 0] = dims;
      const frames = 1 + (T - 1) / 4;
      const h = H / 8;
      const w = W / 8;
      const out = new Float32Array(16 * frames * h * w);
      for (let k = 0; k < 16; k++)
        for (let f = 0; f < frames; f++)
          for (let y = 0; y < h; y++)
            for (let x = 0; x < w; x++) {
              let s = 0;
              for (let c = 0; c < 3; c++)
                for (let dy = 0; dy < 8; dy++)
                  for (let dx = 0; dx < 8; dx++)
                    s +=
                      (data[((c * T + (f === 0 ? 0 : 4 * f)) * H + y * 8 + dy) * W + x * 8 + dx] as number) *
                      (((k + c + dy + dx) % 3) - 1);
              out[((k * frames + f) * h + y) * w + x] = s / 64;
            }
      return { latent_mean: { data: out, dims: [1, 16, frames, h, w] } };
    },
    release: async () => {},
  };
}

const LATENT: Manifest['latent'] = {
  channels: 16,
  temporalFactor: 4,
  spatialFactor: 8,
  patch: [1, 2, 2],
  mean: Array.from({ length: 16 }, (_, c) => 0.1 * c - 0.7),
  std: Array.from({ length: 16 }, (_, c) => 0.5 + 0.1 * c),
};

describe('tiled VAE through createVae (fake translation-equivariant graphs)', () => {
  it('decodes 480p (60×104 latents, 3 latent frames) in 9 sequential tiles, equal to one whole call', async () => {
    const latents = tensor(randn([1, 16, 3, 60, 104], 7), [1, 16, 3, 60, 104]);
    const wholeCalls: number[][] = [];
    const tiledCalls: number[][] = [];

    const whole = await createVae(fakeEncoder([]), fakeDecoder(wholeCalls), LATENT).decode(latents);
    const tiled = await createVae(fakeEncoder([]), fakeDecoder(tiledCalls), LATENT, REFERENCE).decode(latents);

    expect(wholeCalls).toEqual([[1, 16, 3, 60, 104]]);
    expect(tiledCalls).toHaveLength(9);
    expect(tiledCalls.every((d) => d.join() === '1,16,3,30,52')).toBe(true);
    expect(tiled.dims).toEqual([1, 3, 9, 480, 832]);
    let worst = 0;
    for (let i = 0; i < whole.data.length; i++)
      worst = Math.max(worst, Math.abs((tiled.data[i] as number) - (whole.data[i] as number)));
    expect(worst).toBeLessThan(1e-6); // measured 3.0e-7
  });

  it('encodes a 480p image (T = 1) in 9 pixel tiles, equal to one whole call', async () => {
    const video = tensor(
      randn([1, 3, 1, 480, 832], 11).map((v) => Math.tanh(v)),
      [1, 3, 1, 480, 832],
    );
    const tiledCalls: number[][] = [];

    const whole = await createVae(fakeEncoder([]), fakeDecoder([]), LATENT).encode(video);
    const tiled = await createVae(fakeEncoder(tiledCalls), fakeDecoder([]), LATENT, REFERENCE).encode(video);

    expect(tiledCalls).toHaveLength(9);
    expect(tiledCalls[0]).toEqual([1, 3, 1, 240, 416]);
    expect(tiled.dims).toEqual([1, 16, 1, 60, 104]);
    let worst = 0;
    for (let i = 0; i < whole.data.length; i++)
      worst = Math.max(worst, Math.abs((tiled.data[i] as number) - (whole.data[i] as number)));
    expect(worst).toBeLessThan(1e-6); // measured 2.4e-7
  });

  it('makes one whole call when the grid fits in one tile', async () => {
    const calls: number[][] = [];
    const latents = tensor(randn([1, 16, 2, 16, 16], 3), [1, 16, 2, 16, 16]);

    const out = await createVae(fakeEncoder([]), fakeDecoder(calls), LATENT, REFERENCE).decode(latents);

    expect(calls).toEqual([[1, 16, 2, 16, 16]]);
    expect(out.dims).toEqual([1, 3, 5, 128, 128]);
  });
});
