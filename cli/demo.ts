import { join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CliResult, runGenerate } from './generate.ts';
import { createRunFolder } from './run-folder.ts';

/**
 * `npm run gallery`: a small gallery with pusa-mini, every task once, from the sample inputs in `samples/`, into a new
 * `out/gallery-<date>-<time>/`. Extend and transition continue the clips made earlier in the same run. It deletes
 * nothing: `./out` is also where `pusa` puts a user's own clips.
 */
const { values } = parseArgs({ options: { steps: { type: 'string' } } });
const samples = fileURLToPath(new URL('../samples/', import.meta.url));
const sample = (name: string) => join(samples, name);
const dir = await createRunFolder('gallery');
// Seed 0 for every clip: the gallery looks the same on every run and machine, so it can be compared with the README.
const common = ['--quiet', '--seed', '0', ...(values.steps === undefined ? [] : ['--steps', values.steps])];

const runs: { task: Parameters<typeof runGenerate>[0]; args: string[] }[] = [
  {
    task: 't2v',
    args: ['--prompt', 'a red circle moves right on a dark blue background', '--output', join(dir, 't2v.mp4')],
  },
  {
    task: 'i2v',
    args: [
      '--image',
      sample('yellow-star.png'),
      '--prompt',
      'a yellow star moves up on a black background',
      '--output',
      join(dir, 'i2v.mp4'),
    ],
  },
  {
    task: 'start-end',
    args: [
      '--image',
      sample('red-circle-start.png'),
      '--image',
      sample('red-circle-end.png'),
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--output',
      join(dir, 'start-end.mp4'),
    ],
  },
  {
    task: 'keyframes',
    args: [
      '--image',
      sample('green-square-top.png@0'),
      '--image',
      sample('green-square-middle.png@4'),
      '--image',
      sample('green-square-bottom.png@8'),
      '--frames',
      '33',
      '--prompt',
      'a green square moves down on a gray background',
      '--output',
      join(dir, 'keyframes.mp4'),
    ],
  },
  {
    task: 'extend',
    args: [
      '--clip',
      join(dir, 't2v.mp4'),
      '--prompt',
      'a red circle moves right on a dark blue background',
      '--output',
      join(dir, 'extend.mp4'),
    ],
  },
  {
    task: 'transition',
    args: [
      '--clip',
      join(dir, 't2v.mp4'),
      '--clip',
      join(dir, 'i2v.mp4'),
      '--prompt',
      'a yellow star moves up on a black background',
      '--output',
      join(dir, 'transition.mp4'),
    ],
  },
];

const started = performance.now();
const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
const results: (CliResult & { task: string; seconds: number })[] = [];
for (const { task, args } of runs) {
  const t0 = performance.now();
  process.stdout.write(`${task.padEnd(10)} … `);
  const result = await runGenerate(task, [...args, ...common], controller.signal);
  const seconds = (performance.now() - t0) / 1000;
  results.push({ ...result, task, seconds });
  process.stdout.write(
    `${relative(process.cwd(), result.output)}  ${result.frames} frames  ${(result.bytes / 1024).toFixed(0)} KiB  ${seconds.toFixed(1)} s\n`,
  );
}
process.stdout.write(
  `\nmade ${results.length} clips in ${dir}/ with ${String((results[0]?.parameters as { model?: string })?.model ?? 'the model')} in ${((performance.now() - started) / 1000).toFixed(1)} s (each .mp4 has a .latents sidecar for extend and transition)\n`,
);
