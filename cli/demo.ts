import { rm } from 'node:fs/promises';
import { relative } from 'node:path';
import process from 'node:process';
import { type CliResult, runGenerate } from './generate.ts';

/**
 * `npm run demo`: a small gallery with pusa-mini, every task once, from the sample inputs in `samples/`, into
 * `./out`. Extend and transition continue the clips made earlier in the same run.
 */
const runs: { task: Parameters<typeof runGenerate>[0]; args: string[] }[] = [
  { task: 't2v', args: ['--prompt', 'a red circle moves right on a dark blue background', '--output', 'out/t2v.mp4'] },
  {
    task: 'i2v',
    args: [
      '--image',
      'samples/yellow-star.png',
      '--prompt',
      'a yellow star moves up on a black background',
      '--output',
      'out/i2v.mp4',
    ],
  },
  {
    task: 'start-end',
    args: [
      '--image',
      'samples/red-circle-start.png',
      '--image',
      'samples/red-circle-end.png',
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--output',
      'out/start-end.mp4',
    ],
  },
  {
    task: 'keyframes',
    args: [
      '--image',
      'samples/green-square-top.png@0',
      '--image',
      'samples/green-square-middle.png@4',
      '--image',
      'samples/green-square-bottom.png@8',
      '--frames',
      '33',
      '--prompt',
      'a green square moves down on a gray background',
      '--output',
      'out/keyframes.mp4',
    ],
  },
  {
    task: 'extend',
    args: [
      '--clip',
      'out/t2v.mp4',
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--output',
      'out/extend.mp4',
    ],
  },
  {
    task: 'transition',
    args: [
      '--clip',
      'out/t2v.mp4',
      '--clip',
      'out/i2v.mp4',
      '--prompt',
      'a yellow star moves up on a black background',
      '--output',
      'out/transition.mp4',
    ],
  },
];

const started = performance.now();
await rm('out', { recursive: true, force: true });
const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
const results: (CliResult & { task: string; seconds: number })[] = [];
for (const { task, args } of runs) {
  const t0 = performance.now();
  process.stdout.write(`${task.padEnd(10)} … `);
  const result = await runGenerate(task, [...args, '--quiet'], controller.signal);
  const seconds = (performance.now() - t0) / 1000;
  results.push({ ...result, task, seconds });
  process.stdout.write(
    `${relative(process.cwd(), result.output)}  ${result.frames} frames  ${(result.bytes / 1024).toFixed(0)} KiB  ${seconds.toFixed(1)} s\n`,
  );
}
process.stdout.write(
  `\nmade ${results.length} clips in ./out with ${String((results[0]?.parameters as { model?: string })?.model ?? 'the model')} in ${((performance.now() - started) / 1000).toFixed(1)} s (each .mp4 has a .latents sidecar for extend and transition)\n`,
);
