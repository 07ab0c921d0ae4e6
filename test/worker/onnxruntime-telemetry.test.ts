import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
// onnxruntime also stays quiet when any of these is set (its CI detection); the child must not inherit them, or the
// opt-in case below could not show that telemetry is really written when allowed.
const CI_VARIABLES = [
  'CI',
  'TF_BUILD',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'CIRCLECI',
  'TRAVIS',
  'JENKINS_URL',
  'CODEBUILD_BUILD_ID',
  'BUILDKITE',
  'TEAMCITY_VERSION',
  'APPVEYOR',
  'BITBUCKET_BUILD_NUMBER',
  'SYSTEM_TEAMFOUNDATIONCOLLECTIONURI',
  'ORT_RUNNING_UNIT_TESTS',
];

const homes: string[] = [];
afterEach(async () => {
  for (const home of homes.splice(0)) await rm(home, { recursive: true, force: true });
});

/** Loads the shipped pack in a fresh process whose HOME is an empty folder; returns that folder. */
async function loadModelIn(extraEnv: Record<string, string>): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'pusa-ort-home-'));
  homes.push(home);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), ...extraEnv };
  for (const name of CI_VARIABLES) delete env[name];
  // This test process may itself have loaded onnxruntime (and so set the switch); the child starts clean.
  if (extraEnv['ORT_DISABLE_TELEMETRY'] === undefined) delete env['ORT_DISABLE_TELEMETRY'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/load-model-once.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(output, output).toContain('loaded');
  expect(code).toBe(0);
  return home;
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe("onnxruntime's telemetry", () => {
  it('writes nothing under ~/.cache/Microsoft when the operator did not opt in', async () => {
    const home = await loadModelIn({});

    expect(await filesUnder(join(home, '.cache', 'Microsoft'))).toEqual([]);
  }, 60_000);

  it("is recorded only when the operator opts in with ORT_DISABLE_TELEMETRY=0 (onnxruntime's own default)", async () => {
    const home = await loadModelIn({ ORT_DISABLE_TELEMETRY: '0' });

    const files = await filesUnder(join(home, '.cache', 'Microsoft'));
    expect(files).toContain(join('DeveloperTools', '.onnxruntime', 'deviceid'));
  }, 60_000);
});
