import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

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
            const allowed = target.startsWith('./') || (folder === 'commands' && target === 'zod');
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
    const folders = ['worker', 'bot', 'cli', 'bench', 'media', 'eval', 'scripts', 'test', 'queue', 'prisma'];
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
});
