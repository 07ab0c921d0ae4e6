import sharp from 'sharp';
import { createTorchGenerator } from '../sampler/index.ts';
import {
  BACKGROUNDS,
  type BackgroundName,
  COLORS,
  type ColorName,
  MOVES,
  type MoveName,
  SHAPES,
  type ShapeName,
} from './palette.ts';

/** One held-out scene: a single shape on a plain background, and where it is. */
export interface Scene {
  readonly color: ColorName;
  readonly shape: ShapeName;
  readonly background: BackgroundName;
  readonly move: MoveName;
  readonly x: number;
  readonly y: number;
  readonly radius: number;
}

/**
 * Held-out scenes drawn from a seed with the torch-compatible generator, so every machine evaluates the same
 * prompts. Shapes stay away from the border (the analyzer estimates the background there).
 */
export function heldOutScenes(seed: number, count: number): Scene[] {
  const g = createTorchGenerator(seed);
  const pick = <TItem>(items: readonly TItem[]): TItem => items[Math.floor(g.nextDouble() * items.length)] as TItem;
  return Array.from({ length: count }, () => ({
    color: pick(Object.keys(COLORS) as ColorName[]),
    shape: pick(SHAPES),
    background: pick(Object.keys(BACKGROUNDS) as BackgroundName[]),
    move: pick(Object.keys(MOVES) as MoveName[]),
    x: 44 + g.nextDouble() * 40,
    y: 44 + g.nextDouble() * 40,
    radius: 10 + g.nextDouble() * 5,
  }));
}

/** The prompt pusa-mini was trained on for such a scene. */
export function promptFor(scene: Scene): string {
  return `a ${scene.color} ${scene.shape} ${scene.move} on a ${scene.background} background`;
}

/** The scene after moving `distance` pixels along its direction. */
export function moved(scene: Scene, distance: number): Scene {
  const [ux, uy] = MOVES[scene.move];
  const norm = Math.hypot(ux, uy);
  return { ...scene, x: scene.x + (ux / norm) * distance, y: scene.y + (uy / norm) * distance };
}

/** Renders a scene as `[H·W·3]` RGB bytes at `size × size`. */
export async function renderScene(scene: Scene, size = 128): Promise<Uint8Array> {
  const fill = `rgb(${COLORS[scene.color].join(',')})`;
  const bg = `rgb(${BACKGROUNDS[scene.background].join(',')})`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="${size}" height="${size}" fill="${bg}"/>${shapeSvg(scene, fill, bg)}</svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

function shapeSvg({ shape, x, y, radius: r }: Scene, fill: string, bg: string): string {
  const polygon = (points: [number, number][]) =>
    `<polygon points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}" fill="${fill}"/>`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}"/>`;
    case 'ring':
      return `<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}"/><circle cx="${x}" cy="${y}" r="${r * 0.55}" fill="${bg}"/>`;
    case 'square':
      return `<rect x="${x - r * 0.85}" y="${y - r * 0.85}" width="${r * 1.7}" height="${r * 1.7}" fill="${fill}"/>`;
    case 'diamond':
      return polygon([
        [x, y - r],
        [x + r, y],
        [x, y + r],
        [x - r, y],
      ]);
    case 'triangle':
      return polygon([
        [x, y - r],
        [x + r * 0.87, y + r * 0.5],
        [x - r * 0.87, y + r * 0.5],
      ]);
    case 'star':
      return polygon(
        Array.from({ length: 10 }, (_, i) => {
          const radius = i % 2 === 0 ? r : r * 0.45;
          const angle = -Math.PI / 2 + (i * Math.PI) / 5;
          return [x + radius * Math.cos(angle), y + radius * Math.sin(angle)] as [number, number];
        }),
      );
  }
}
