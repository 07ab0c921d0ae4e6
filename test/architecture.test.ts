import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

/**
 * Which of our top-level folders each folder may import from (house style §0: dependencies point inward). `sampler/`
 * and `commands/` are the core; `media/`, `pack/`, `queue/` and `prisma/` are edges both processes share; `bot/` and
 * `worker/` are the two processes and never import each other: what crosses between them is a contract in
 * `commands/`. `dev/` holds the local stand-ins of the chat platforms and the stacks built on them, which the demos
 * and the tests share: it may import the product and `scripts/`' process helpers, never `test/`, and the product
 * never imports it. The tools (`cli/`, `bench/`, `eval/`, `scripts/`, `samples/`, `test/`, the root's config files)
 * may import anything, and nothing outside the tools and `dev/` imports them. A folder missing here fails the test
 * until it is placed.
 */
const TOOL = 'anything';
const ALLOWED: Record<string, readonly string[] | typeof TOOL> = {
  sampler: [],
  commands: ['sampler'],
  media: ['sampler'],
  pack: [],
  queue: ['commands'],
  prisma: ['commands'],
  // No prisma/: a worker holds no database; its results go back to the bot on the deliver queue.
  worker: ['commands', 'sampler', 'media', 'pack', 'queue'],
  bot: ['commands', 'sampler', 'media', 'pack', 'prisma', 'queue'],
  dev: ['bot', 'commands', 'sampler', 'media', 'pack', 'prisma', 'queue', 'scripts'],
  cli: TOOL,
  bench: TOOL,
  eval: TOOL,
  scripts: TOOL,
  samples: TOOL,
  test: TOOL,
  '(root)': TOOL,
};
const SKIPPED = new Set(['node_modules', 'generated', 'models', 'training', 'exporter', 'out', 'data']);

/** Every script of ours under `dir` (TypeScript and JavaScript), without dependencies or generated code. */
function scripts(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIPPED.has(name) || name.startsWith('.')) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return scripts(path);
    return /\.(ts|mts|js|mjs)$/.test(name) ? [path] : [];
  });
}

/** The top-level folder a path lies in, `(root)` for the root's own files. */
function folderOf(path: string): string {
  const parts = relative(root, path).split('/');
  return parts.length > 1 ? (parts[0] ?? '(root)') : '(root)';
}

/** Relative specifiers a file imports or re-exports, statically, dynamically or for side effects. */
function relativeImports(text: string): string[] {
  const found = text.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|^\s*import\s+'([^']+)'/gm);
  return [...found].map((m) => m[1] ?? m[2] ?? m[3] ?? '').filter((target) => target.startsWith('.'));
}

/** `file → folder` for every import that crosses into a folder `ALLOWED` does not grant. */
function directionProblems(files: readonly { path: string; text: string }[]): string[] {
  const problems: string[] = [];
  for (const { path, text } of files) {
    const from = folderOf(path);
    const allowed = ALLOWED[from];
    if (allowed === undefined) {
      problems.push(`${relative(root, path)}: folder ${from}/ has no rule in test/architecture.test.ts`);
      continue;
    }
    if (allowed === TOOL) continue;
    for (const target of relativeImports(text)) {
      const to = folderOf(resolve(dirname(path), target));
      if (to !== from && !allowed.includes(to)) problems.push(`${relative(root, path)} imports ${to}/ (${target})`);
    }
  }
  return problems;
}

function sources(folder: string): string[] {
  const dir = join(root, folder);
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(relative(root, path));
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The §4 boundaries of the house style, checked independently of the linter's version. */
describe('architecture', () => {
  const pure = ['sampler', 'commands'].flatMap((folder) => {
    try {
      return sources(folder);
    } catch {
      return [];
    }
  });

  it('finds the pure folders', () => {
    expect(pure.some((p) => p.includes('/sampler/'))).toBe(true);
  });

  it('keeps sampler/ and commands/ free of I/O, clocks, global randomness and outside imports', () => {
    const problems: string[] = [];
    for (const file of pure) {
      const folder = relative(root, file).split('/')[0];
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const where = `${relative(root, file)}:${i + 1}`;
          const from = /\bfrom\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/.exec(line);
          const target = from?.[1] ?? from?.[2];
          if (target !== undefined) {
            // Our own folders are the direction rule's (below); here: no package but zod, and that only in commands/.
            const allowed = target.startsWith('.') || (folder === 'commands' && target === 'zod');
            if (!allowed) problems.push(`${where} imports ${target}`);
          }
          if (/\bprocess\.|\bDate\.now\b|\bnew Date\b|\bMath\.random\b|\bperformance\.now\b|\brequire\(/.test(line)) {
            problems.push(`${where} uses a global with side effects: ${line.trim()}`);
          }
        });
    }
    expect(problems).toEqual([]);
  });

  it('lets the adapters reach the store, the queue and the seed source only through the front-end core', () => {
    const adapters = ['bot/discord', 'bot/slack', 'bot/web'].flatMap((folder) => sources(folder));
    expect(adapters.length).toBeGreaterThan(10);
    const reaches = adapters.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) =>
          /\bservice\.(store|generate)\b|\bService\b.*from '\.\.\/service\.ts'|from '\.\.\/\.\.\/prisma\/store\.ts'|core\/seed\.ts'/.test(
            line,
          )
            ? [`${relative(root, file)}:${i + 1}: ${line.trim()}`]
            : [],
        ),
    );
    expect(reaches).toEqual([]);
  });

  it('loads onnxruntime-node only through worker/runtime/onnxruntime.ts, which switches its telemetry off first', () => {
    const folders = ['worker', 'bot', 'cli', 'bench', 'media', 'eval', 'scripts', 'test', 'dev', 'queue', 'prisma'];
    const loaders = folders
      .flatMap((folder) => {
        try {
          return sources(folder);
        } catch {
          return [];
        }
      })
      .filter((file) => {
        const text = readFileSync(file, 'utf8');
        return (
          /^import\s+(?!type\b)[^;]*from\s+'onnxruntime-(node|common)'/m.test(text) ||
          /import\(\s*'onnxruntime-(node|common)'\s*\)|require\(\s*'onnxruntime-(node|common)'\s*\)/.test(text)
        );
      })
      .map((file) => relative(root, file));

    expect(loaders).toEqual(['worker/runtime/onnxruntime.ts']);
  });

  it('keeps every folder to the imports its place allows (bot/ and worker/ never import each other)', () => {
    const files = scripts(root).map((path) => ({ path, text: readFileSync(path, 'utf8') }));

    expect(files.some((f) => folderOf(f.path) === 'bot')).toBe(true);
    expect(directionProblems(files)).toEqual([]);
  });

  it.each([
    ['bot/service.ts', "import { loadPusaModel } from '../worker/runtime/model.ts';", 'worker/'],
    ['bot/core/front-end.ts', "import type { GenerateResult } from '../../worker/process-generate.ts';", 'worker/'],
    ['worker/main.ts', "export { startService } from '../bot/service.ts';", 'bot/'],
    ['commands/jobs.ts', "const q = await import('../queue/names.ts');", 'queue/'],
    ['sampler/step.ts', "import { LIMITS } from '../commands/index.ts';", 'commands/'],
    ['queue/blobs.ts', "import '../test/helpers/pack.ts';", 'test/'],
    ['bot/core/hub.ts', "import { runBench } from '../../bench/service.ts';", 'bench/'],
    ['bot/discord/index.ts', "import { startLocalDiscord } from '../../dev/discord/local-discord.ts';", 'dev/'],
    ['worker/main.ts', "import { startFakeSlack } from '../dev/slack/fake-slack.ts';", 'dev/'],
    ['commands/jobs.ts', "import type { SlackStack } from '../dev/slack/harness.ts';", 'dev/'],
    ['dev/discord/harness.ts', "import { PACK_DIR } from '../../test/helpers/pack.ts';", 'test/'],
    ['newfolder/x.ts', "import { z } from 'zod';", 'no rule'],
  ])('reports %s when it adds %s', (file, line, expected) => {
    const problems = directionProblems([{ path: join(root, file), text: `${line}\n` }]);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });
});
