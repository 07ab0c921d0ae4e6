import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeImage } from '../../media/image.ts';

// What the sender of a CMYK JPEG saw is what Chromium (and so Discord's client) draws: the reference here is a real
// Chromium decoding each fixture into a canvas, read back pixel by pixel.
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Colours of the patches: the green, primaries, greys, dark and light tones (so K is 0, partial and full). */
const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [40, 170, 70],
  [220, 40, 40],
  [30, 60, 200],
  [250, 220, 30],
  [90, 20, 120],
  [255, 255, 255],
  [0, 0, 0],
  [128, 128, 128],
  [200, 200, 200],
  [40, 40, 40],
  [0, 200, 220],
  [255, 140, 0],
  [110, 70, 40],
  [240, 190, 170],
  [20, 90, 40],
  [180, 0, 90],
];
const PATCH = 16;
const WIDTH = PATCH * PALETTE.length;

let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is required for the CMYK browser test: apt-get install chromium (or set CHROMIUM_PATH); not found at ${CHROMIUM}`,
    );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // sRGB output whatever the host's display profile, so the canvas holds sRGB numbers.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--force-color-profile=srgb',
    ],
  });
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** The palette as patches in one row, written by libvips as a CMYK JPEG (Adobe APP14 marker, inverted samples). */
async function cmykJpeg(withProfile: boolean): Promise<Buffer> {
  const srgb = await sharp({ create: { width: WIDTH, height: PATCH, channels: 3, background: 'black' } })
    .composite(
      PALETTE.map(([r, g, b], i) => ({
        input: { create: { width: PATCH, height: PATCH, channels: 3, background: { r, g, b } } },
        left: i * PATCH,
        top: 0,
      })),
    )
    .png()
    .toBuffer();
  const cmyk = sharp(srgb).toColourspace('cmyk');
  return (withProfile ? cmyk.withIccProfile('cmyk') : cmyk)
    .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
    .toBuffer();
}

/** The JPEG's marker segments before the scan, as [marker, start, end) byte ranges. */
function segments(jpeg: Buffer): Array<{ marker: number; start: number; end: number }> {
  const out: Array<{ marker: number; start: number; end: number }> = [];
  for (let at = 2; at + 4 <= jpeg.length && jpeg[at] === 0xff; ) {
    const marker = jpeg[at + 1] as number;
    const end = at + 2 + jpeg.readUInt16BE(at + 2);
    out.push({ marker, start: at, end });
    if (marker === 0xda) break;
    at = end;
  }
  return out;
}

const APP2 = 0xe2;
const APP14 = 0xee;

/** The same file without its segments of one marker (APP2: the ICC profile; APP14: Adobe's). */
function withoutSegments(jpeg: Buffer, marker: number): Buffer {
  const drop = segments(jpeg).filter((s) => s.marker === marker);
  if (drop.length === 0) throw new Error(`fixture has no 0x${marker.toString(16)} segment to remove`);
  const kept: Buffer[] = [];
  let from = 0;
  for (const s of drop) {
    kept.push(jpeg.subarray(from, s.start));
    from = s.end;
  }
  kept.push(jpeg.subarray(from));
  return Buffer.concat(kept);
}

/** A "plain" CMYK JPEG, as encoders other than Adobe's write it: no APP14 marker. */
function withoutAdobeMarker(jpeg: Buffer): Buffer {
  return withoutSegments(jpeg, APP14);
}

/**
 * The centre pixel of each patch as Chromium draws the JPEG into a canvas. The page script is a string because the
 * project's TypeScript has no DOM types (nothing else of ours runs in a browser).
 */
async function browserPatches(jpeg: Buffer): Promise<number[][]> {
  const patches: unknown = await page.evaluate(`(async () => {
    const img = new Image();
    img.src = 'data:image/jpeg;base64,${jpeg.toString('base64')}';
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const out = [];
    for (let i = 0; i < ${PALETTE.length}; i++) {
      const [r, g, b] = context.getImageData(i * ${PATCH} + ${PATCH / 2}, ${PATCH / 2}, 1, 1).data;
      out.push([r, g, b]);
    }
    return out;
  })()`);
  if (!Array.isArray(patches) || patches.length !== PALETTE.length) throw new Error('the page returned no patches');
  return patches as number[][];
}

async function ourPatches(jpeg: Buffer): Promise<number[][]> {
  const image = await normalizeImage(jpeg, { width: WIDTH, height: PATCH, fit: 'stretch' });
  return PALETTE.map((_, i) => {
    const at = ((PATCH / 2) * WIDTH + i * PATCH + PATCH / 2) * 3;
    return [image.rgb[at] as number, image.rgb[at + 1] as number, image.rgb[at + 2] as number];
  });
}

function worstChannelGap(a: number[][], b: number[][]): number {
  return Math.max(...a.flatMap((px, i) => px.map((v, c) => Math.abs(v - (b[i]?.[c] ?? Number.NaN)))));
}

function meanChannelGap(a: number[][], b: number[][]): number {
  const gaps = a.flatMap((px, i) => px.map((v, c) => Math.abs(v - (b[i]?.[c] ?? Number.NaN))));
  return gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
}

describe('CMYK JPEGs are normalised to the colours Chromium shows', () => {
  it('without a profile, with the Adobe marker (inverted CMYK): within 1 of the browser on every patch', async () => {
    const jpeg = await cmykJpeg(false);
    expect(segments(jpeg).some((s) => s.marker === APP14)).toBe(true);
    expect((await sharp(jpeg).metadata()).space).toBe('cmyk');

    const seen = await browserPatches(jpeg);
    const ours = await ourPatches(jpeg);
    // The fixture is one the old path got wrong: libvips' fallback print profile is far from what the browser shows.
    const fallback = await sharp(jpeg).raw().toBuffer();
    const fallbackPatches = PALETTE.map((_, i) => [
      ...fallback.subarray(
        ((PATCH / 2) * WIDTH + i * PATCH + PATCH / 2) * 3,
        ((PATCH / 2) * WIDTH + i * PATCH + PATCH / 2) * 3 + 3,
      ),
    ]);

    expect(worstChannelGap(fallbackPatches, seen)).toBeGreaterThan(40);
    expect(
      worstChannelGap(ours, seen),
      `ours ${JSON.stringify(ours)}\nbrowser ${JSON.stringify(seen)}`,
    ).toBeLessThanOrEqual(1);
  });

  it('without a profile and without the Adobe marker (plain CMYK): within 1 of the browser', async () => {
    const jpeg = withoutAdobeMarker(await cmykJpeg(false));
    expect(segments(jpeg).some((s) => s.marker === APP14)).toBe(false);

    const seen = await browserPatches(jpeg);
    const ours = await ourPatches(jpeg);

    expect(
      worstChannelGap(ours, seen),
      `ours ${JSON.stringify(ours)}\nbrowser ${JSON.stringify(seen)}`,
    ).toBeLessThanOrEqual(1);
  });

  it('with an embedded CMYK profile, with and without the Adobe marker: converted through the profile, near the browser', async () => {
    const adobe = await cmykJpeg(true);
    expect(segments(adobe).some((s) => s.marker === APP2)).toBe(true);
    expect((await sharp(adobe).metadata()).hasProfile).toBe(true);

    for (const jpeg of [adobe, withoutAdobeMarker(adobe)]) {
      const seen = await browserPatches(jpeg);
      const ours = await ourPatches(jpeg);
      const profileIgnored = await ourPatches(withoutSegments(jpeg, APP2));

      // Both go through the profile's perceptual table, but with different colour engines (lcms2 in sharp, skcms in
      // Chromium), which disagree on this v2 Lab-PCS print profile by up to 41 in one channel (blue, in warm and dark
      // tones; 13 on average). Reading the same samples as if there were no profile is off by 78.
      expect(worstChannelGap(profileIgnored, seen)).toBeGreaterThan(60);
      expect(meanChannelGap(ours, seen)).toBeLessThanOrEqual(16);
      expect(
        worstChannelGap(ours, seen),
        `ours ${JSON.stringify(ours)}\nbrowser ${JSON.stringify(seen)}`,
      ).toBeLessThanOrEqual(PROFILED_TOLERANCE);
    }
  });
});

/** lcms2 against skcms on sharp's built-in CMYK profile ("Chemical proof"), measured: 41. */
const PROFILED_TOLERANCE = 45;
