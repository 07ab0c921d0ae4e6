import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the closing line', () => {
  it('counts the tests of a file whose setup broke as failed, and a skip as skipped', async () => {
    const run = await promisify(execFile)(
      process.execPath,
      [
        'node_modules/vitest/vitest.mjs',
        'run',
        '--config',
        'vitest.config.ts',
        '--reporter',
        './test/helpers/count-reporter.ts',
      ],
      { cwd: root, env: { ...process.env, VITEST_INCLUDE: 'test/fixtures/reporter/*.check.ts' } },
    ).catch((error: { stdout: string; code: number }) => error);
    const lines = run.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('1 passed, 2 failed, 1 skipped');
    expect((run as { code?: number }).code).toBe(1);
  });
});
