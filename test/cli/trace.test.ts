import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadOracle } from '../helpers/oracle.ts';

const run = promisify(execFile);
const cwd = new URL('../..', import.meta.url).pathname;

/** Runs `npm run -s pusa -- …` exactly as a user does. */
async function pusa(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', 'pusa', '--', ...args], { cwd });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('pusa trace (CLI)', () => {
  it('prints one JSON object that matches the reference for a conditioned run', async () => {
    const c = loadOracle().traces.find((t) => t.config.conds.length >= 2 && t.config.cfg !== 1)!;
    const { config } = c;
    const args = [
      'trace',
      '--steps',
      `${config.steps}`,
      '--shift',
      `${config.shift}`,
      '--channels',
      `${config.channels}`,
      '--frames',
      `${config.frames}`,
      '--height',
      `${config.height}`,
      '--width',
      `${config.width}`,
      '--seed',
      `${config.seed}`,
      '--cfg',
      `${config.cfg}`,
    ];
    for (const [index, m] of config.conds) args.push('--cond', `${index}:${m}`);

    const { stdout, code } = await pusa(args);

    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const trace = JSON.parse(lines[0]!);
    expect(trace.steps.map((s: { t: number[] }) => s.t)).toEqual(c.fp32.steps.map((s) => s.t));
    expect(Math.abs(trace.final.sumSq - c.fp32.final.sumSq) / c.fp32.final.sumSq).toBeLessThan(1e-4);
  });

  it('prints torch-compatible noise with --print noise', async () => {
    const { stdout, code } = await pusa(['trace', '--print', 'noise', '--seed', '0', '--shape', '1,16,21,90,160']);

    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.first[0]).toBeCloseTo(-1.1258398, 6);
    expect(summary.last[3]).toBeCloseTo(0.2699478, 6);
    expect(Object.keys(summary)).toEqual(['first', 'last', 'sum', 'sumSq']);
  });

  it.each([
    [['trace', '--cond', '7:0.2', '--frames', '5'], /condition frame index 7 is out of range/],
    [['trace', '--cond', '0:1.5'], /must be in \[0, 1\], got 1\.5/],
    [['trace', '--cond', 'zero'], /--cond expects LATENT_INDEX:MULTIPLIER/],
    [['trace', '--steps', '0'], /--steps expects an integer ≥ 1, got "0"/],
    [['trace', '--bogus'], /Unknown option '--bogus'/],
    [['fly'], /unknown command "fly"/],
  ])('exits 2 with a one-line reason for %j', async (args, message) => {
    const { stdout, stderr, code } = await pusa(args);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
