/**
 * Writes the sample inputs that `npm run demo` and the tests use: 128×128 scenes in pusa-mini's palette
 * (training/data.py), drawn from SVG with sharp. Run once; the PNGs are committed.
 *   npx tsx samples/make-samples.ts
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';

const here = new URL('.', import.meta.url).pathname;

function scene(background: string, shapes: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><rect width="128" height="128" fill="${background}"/>${shapes}</svg>`;
}
const circle = (x: number, y: number, r: number, fill: string) =>
  `<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}"/>`;
const square = (x: number, y: number, s: number, fill: string) =>
  `<rect x="${x - s}" y="${y - s}" width="${2 * s}" height="${2 * s}" fill="${fill}"/>`;
function star(x: number, y: number, r: number, fill: string): string {
  const points = Array.from({ length: 10 }, (_, i) => {
    const radius = i % 2 === 0 ? r : r * 0.45;
    const angle = -Math.PI / 2 + (i * Math.PI) / 5;
    return `${(x + radius * Math.cos(angle)).toFixed(1)},${(y + radius * Math.sin(angle)).toFixed(1)}`;
  });
  return `<polygon points="${points.join(' ')}" fill="${fill}"/>`;
}

const RED = 'rgb(225,35,35)';
const YELLOW = 'rgb(245,225,40)';
const GREEN = 'rgb(40,190,60)';
const DARK_BLUE = 'rgb(15,25,80)';
const BLACK = 'rgb(8,8,8)';
const GRAY = 'rgb(95,95,95)';

const samples: Record<string, string> = {
  'yellow-star.png': scene(BLACK, star(64, 64, 15, YELLOW)),
  'red-circle-start.png': scene(DARK_BLUE, circle(36, 64, 13, RED)),
  'red-circle-end.png': scene(DARK_BLUE, circle(92, 64, 13, RED)),
  'green-square-top.png': scene(GRAY, square(64, 34, 11, GREEN)),
  'green-square-middle.png': scene(GRAY, square(64, 64, 11, GREEN)),
  'green-square-bottom.png': scene(GRAY, square(64, 94, 11, GREEN)),
};

for (const [name, svg] of Object.entries(samples)) {
  await writeFile(`${here}${name}`, await sharp(Buffer.from(svg)).png({ compressionLevel: 9 }).toBuffer());
}
process.stdout.write(`wrote ${Object.keys(samples).length} samples to ${here}\n`);
