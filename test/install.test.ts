import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { allowScripts: Record<string, boolean> };
const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
};

/** Every package of the lock file that has an install script, by name. */
const withScripts = Object.entries(lock.packages)
  .filter(([path, entry]) => path !== '' && entry.hasInstallScript === true)
  .map(([path]) => path.replace(/^.*node_modules\//, ''));

describe('the install', () => {
  it('reviews every install script in the lock file through allowScripts (npm 12 runs no other)', () => {
    const unreviewed = withScripts.filter((name) => pkg.allowScripts[name] === undefined);

    expect(withScripts.length).toBeGreaterThan(0);
    expect(unreviewed).toEqual([]);
  });

  it.each([
    ['onnxruntime-node', 'downloads the CUDA provider from outside the npm registry'],
    ['@prisma/engines', 'downloads native engines; we use the wasm schema engine and driver adapters'],
  ])('denies the install script of %s: it %s', (name) => {
    expect(withScripts).toContain(name);
    expect(pkg.allowScripts[name]).toBe(false);
  });

  it('keeps .npmrc to settings npm knows (no "Unknown project config" warning)', () => {
    const result = spawnSync('npm', ['config', 'get', 'fund'], { cwd: root, encoding: 'utf8' });

    expect(result.status).toBe(0);
    expect(result.stderr).not.toMatch(/Unknown (project|user|global|env|cli) config/);
    expect(result.stdout.trim()).toBe('false');
  });
});
