/**
 * `npm run bench:payload`: Redis memory one queued job holds at the real model's 480p (832×480, 81 frames), per
 * task, before and after [14] item 2 (extend/transition carry the earlier clip's MP4 instead of its raw frames).
 * Blobs are stored in a real Redis and measured with `MEMORY USAGE`; the job's own data too (BullMQ's job hash).
 * The MP4 is encoded by the product's own encoder from frames of moving content (a drifting smooth pattern with
 * grain, closer to a generated clip than a test card or pure noise), so its size is what our clips weigh.
 */
import process from 'node:process';
import { Redis } from 'ioredis';
import { encodeMp4 } from '../media/mp4.ts';
import { encodeSidecar } from '../media/sidecar.ts';
import { createBlobStore, packImage } from '../queue/blobs.ts';
import { packFrames } from '../queue/frames.ts';
import { randn, tensor } from '../sampler/index.ts';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const [W, H, F] = [832, 480, 81];
const redis = new Redis(REDIS_URL);
const prefix = `bench-payload-${process.pid}`;
const blobs = createBlobStore(redis, prefix);

function clipFrames(): { width: number; height: number; count: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(W * H * 3 * F);
  let seed = 7;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 24) - 128;
  };
  for (let f = 0; f < F; f++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = ((f * H + y) * W + x) * 3;
        const u = (x + 3 * f) / W;
        const v = (y + f) / H;
        rgb[i] = Math.max(0, Math.min(255, 128 + 100 * Math.sin(6 * u + 2 * v) + noise() / 16));
        rgb[i + 1] = Math.max(0, Math.min(255, 128 + 90 * Math.sin(4 * v - 3 * u + f / 9) + noise() / 16));
        rgb[i + 2] = Math.max(0, Math.min(255, 128 + 80 * Math.cos(5 * u * v + f / 13) + noise() / 16));
      }
  return { width: W, height: H, count: F, rgb };
}

const memory = async (key: string) => Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
const MB = (b: number) => (b / 1e6).toFixed(2);

const frames = clipFrames();
const { mp4 } = await encodeMp4(frames, { fps: 16 });
const dims = [1, 16, 21, H / 8, W / 8];
const sidecar = encodeSidecar(tensor(randn(dims, 1), dims), {
  model: { name: 'pusa-v1', version: '1.0.0' },
  width: W,
  height: H,
  fps: 16,
  task: 't2v',
  prompt: 'a hummingbird at red flowers',
  seed: 1,
});
const image = packImage(W, H, frames.rgb.subarray(0, W * H * 3));
const keys = {
  image: await blobs.put('image', image),
  latents: await blobs.put('latents', sidecar),
  mp4: await blobs.put('mp4', mp4),
  frames: await blobs.put('frames', packFrames(frames)),
};
const size = Object.fromEntries(await Promise.all(Object.entries(keys).map(async ([k, v]) => [k, await memory(v)])));
await blobs.delete(...Object.values(keys));
redis.disconnect();

const jobData = 2_000; // the request JSON itself (prompt, options, keys): about 1–2 kB
const tasks: [string, string[], string[]][] = [
  ['t2v', [], []],
  ['i2v', ['image'], ['image']],
  ['start-end', ['image', 'image'], ['image', 'image']],
  ['keyframes (3 images)', ['image', 'image', 'image'], ['image', 'image', 'image']],
  ['extend', ['latents', 'frames'], ['latents', 'mp4']],
  ['transition (2 clips)', ['latents', 'frames', 'latents', 'frames'], ['latents', 'mp4', 'latents', 'mp4']],
];
console.log(
  `Redis memory per queued job, ${W}×${H}, ${F} frames (MEMORY USAGE of each blob + ~${jobData} B of job data)`,
);
console.log(
  `blobs: image ${MB(size['image'])} MB, latents ${MB(size['latents'])} MB, MP4 ${MB(size['mp4'])} MB, raw frames ${MB(size['frames'])} MB`,
);
console.log('| task | before (MB) | after (MB) |\n| --- | --- | --- |');
for (const [task, before, after] of tasks) {
  const total = (list: string[]) => list.reduce((sum, k) => sum + (size[k] as number), jobData);
  console.log(`| ${task} | ${MB(total(before))} | ${MB(total(after))} |`);
}
