import type { GenerationTask } from '../worker/generate.ts';

const COMMON = `options:
  --model DIR              model pack (default: the bundled models/pusa-mini)
  --negative-prompt TEXT   what to steer away from (default: the pack's)
  --steps N  --shift S  --cfg G
  --seed K                 integer ≥ 0; without it a random seed is drawn and printed, so --seed K repeats the run
  --noise-multiplier M[,M…] one, or one per condition frame, each in [0, 1]
  --frames N               a frame count the pack makes (pusa-mini: 17, 21, 25, 29 or 33)
  --size WxH               a size the pack makes (pusa-mini: 128x128)
  --fit crop|letterbox|stretch   how images are fitted to the size (default crop)
  --fps F                  1 to 240 (default: the pack's)
  --max-bytes B            re-encode until the MP4 fits in B bytes
  --output PATH.mp4        where to write (an existing file there is replaced); default: a new
                           out/<command>-<seed>.mp4 (-2, -3, … if taken), never overwriting a file
  --provider cpu|cuda  --device-id N  --threads N
  --json                   print one JSON object (output, latents, seed, parameters, timings)
  --quiet                  no progress bar
  -h, --help               this text`;

/** One line of what each generation command needs, shown in `pusa --help` and its own `--help`. */
const TASK_LINES: Record<GenerationTask, { synopsis: string; what: string; example: string }> = {
  t2v: {
    synopsis: '--prompt "…"',
    what: 'text to video',
    example: 'pusa t2v --prompt "a red circle moves right on a dark blue background"',
  },
  i2v: {
    synopsis: '--image PATH --prompt "…"',
    what: 'image to video (the image is frame 0)',
    example: 'pusa i2v --image samples/yellow-star.png --prompt "a yellow star moves up on a black background"',
  },
  'start-end': {
    synopsis: '--image START --image END --prompt "…"',
    what: 'a clip from a start frame to an end frame',
    example:
      'pusa start-end --image samples/red-circle-start.png --image samples/red-circle-end.png --prompt "a red circle moves right"',
  },
  keyframes: {
    synopsis: '--image PATH@LATENT_INDEX (repeat) --prompt "…"',
    what: 'images placed at latent frame indices',
    example:
      'pusa keyframes --image samples/green-square-top.png@0 --image samples/green-square-bottom.png@4 --frames 17 --prompt "a green square moves down"',
  },
  extend: {
    synopsis: '--clip PATH --prompt "…"',
    what: 'continue a clip from its end (--overlap K latent frames carried over)',
    example: 'pusa extend --clip out/t2v.mp4 --prompt "a red circle moves right on a dark blue background"',
  },
  transition: {
    synopsis: '--clip FROM --clip TO --prompt "…"',
    what: 'bridge the end of one clip to the start of another',
    example: 'pusa transition --clip out/t2v.mp4 --clip out/i2v.mp4 --prompt "a yellow star moves up"',
  },
};

const LONG = `usage: pusa long (--prompt "…" | --prompt "…" --prompt "…" … | --storyboard FILE) (--seconds S | --segments N) [options]

A long video as a chain of segments, each continuing the one before from its exact latents, joined without the
frames each segment repeats at its start. Up to 60 s at the pack's frame rate.

options:
  --prompt TEXT            one: every segment; repeated: a prompt per segment, in order (a storyboard)
  --storyboard FILE        a prompt per segment, one a line
  --seconds S              how long (at most 60); or --segments N (a storyboard's length when left out)
  --image PATH             start image: the first segment is image-to-video
  --frames N               frames per segment, one the pack makes (default: the pack's)
  --overlap K              latent frames each segment carries over (default: the pack's extend default)
  --seed K                 segment k samples with K + k − 1; drawn and printed when left out
  --steps N  --cfg G  --negative-prompt TEXT  --size WxH  --fit crop|letterbox|stretch
  --max-bytes B            re-encode the joined clip until it fits in B bytes
  --output PATH.mp4        where to write; the last segment's latents go beside it, so pusa extend continues it
  --provider cpu|cuda  --device-id N  --threads N  --json  --quiet
  -h, --help               this text

example:
  pusa long --prompt "a red circle moves right" --prompt "a red circle moves left" --frames 17
`;

const TRACE = `usage: pusa trace [options]

Runs the sampler on an analytic stand-in model (no weights) and prints one JSON object.

options:
  --steps N (10)  --shift S (5)  --channels C (16)  --frames F (5)  --height H (4)  --width W (4)
  --seed K (0)  --cfg G (1)  --cond IDX:M (repeat: condition latent frame IDX with multiplier M)
  --print noise --seed K --shape a,b,…   print a summary of torch-compatible noise instead
  -h, --help   this text
`;

/** `pusa --help`. */
export function mainUsage(): string {
  const tasks = Object.entries(TASK_LINES)
    .map(([name, line]) => `  ${name.padEnd(11)} ${line.what}\n  ${''.padEnd(11)} ${line.synopsis}`)
    .join('\n');
  return `usage: pusa <command> [options]

commands:
${tasks}
  long        a long video (up to 60 s) as a chain of extend segments, a prompt per segment or one for all
  ${''.padEnd(11)} --prompt "…" (--seconds S | --segments N), or --prompt repeated / --storyboard FILE
  trace       run the sampler on an analytic stand-in model and print one JSON object

\`pusa <command> --help\` lists a command's options.
`;
}

/** `pusa <command> --help`, or undefined for an unknown command. */
export function commandUsage(command: string): string | undefined {
  if (command === 'trace') return TRACE;
  if (command === 'long') return LONG;
  const line = TASK_LINES[command as GenerationTask];
  if (line === undefined) return undefined;
  return `usage: pusa ${command} ${line.synopsis} [options]

${line.what[0]?.toUpperCase()}${line.what.slice(1)}.

${COMMON}

example:
  ${line.example}
`;
}
