import sharp from 'sharp';

/**
 * A CMYK JPEG that carries no ICC profile has no defined colour: every viewer picks a rule. libvips (through sharp)
 * picks a print profile, which turns a green that Chromium shows as (40, 170, 70) into a teal (18, 118, 87) (issue
 * [16]). The people who send us images see them in a browser or in Discord's client (Chromium), and Chromium and
 * Firefox both use the naive rule below, so we use it too: what the model animates is what the sender saw.
 *
 * Chromium's JPEG decoder (blink `JPEGImageDecoder`, `SetPixel<JCS_CMYK>`) treats every CMYK JPEG as Adobe's
 * "inverted" CMYK, whatever its APP14 marker says, and computes `R = iC·iK / 255` (integer division) from the stored
 * samples. libvips also inverts every CMYK JPEG on load (`jpeg2vips.c`: "CMYKs are almost always returned inverted"),
 * so the ink amounts it hands us are `C = 255 − iC`, and the same rule reads `R = (255 − C)(255 − K) / 255`. YCCK
 * JPEGs reach both as CMYK (libjpeg converts them), so they take the same path.
 *
 * CMYK JPEGs *with* a profile are converted through that profile (sharp, perceptual intent), as browsers do too.
 */
export async function unprofiledCmykToSrgb(
  bytes: Buffer,
  limitInputPixels: number,
): Promise<{ data: Buffer; width: number; height: number }> {
  // `pipelineColourspace('cmyk')` keeps sharp from applying its fallback CMYK profile: these are the ink amounts.
  const { data: ink, info } = await sharp(bytes, { failOn: 'error', limitInputPixels, pages: 1 })
    .rotate()
    .pipelineColourspace('cmyk')
    .toColourspace('cmyk')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`CMYK decoded to ${info.channels} channels`);
  const pixels = info.width * info.height;
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const white = 255 - (ink[i * 4 + 3] as number);
    rgb[i * 3] = Math.trunc(((255 - (ink[i * 4] as number)) * white) / 255);
    rgb[i * 3 + 1] = Math.trunc(((255 - (ink[i * 4 + 1] as number)) * white) / 255);
    rgb[i * 3 + 2] = Math.trunc(((255 - (ink[i * 4 + 2] as number)) * white) / 255);
  }
  return { data: rgb, width: info.width, height: info.height };
}
