import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermissionsBitField } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DISCORD_BOT_PERMISSIONS, discordInviteUrl } from '../../bot/discord/index.ts';
import { GUILD_ID, type LocalDiscord, startLocalDiscord } from '../../dev/discord/local-discord.ts';
import { PACK_DIR } from '../helpers/pack.ts';

const root = new URL('../..', import.meta.url).pathname;
const TOKEN = 'register-test-token';
const APP_ID = '900000000000000077';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `npm run discord:register`'s script in `cwd`, with no DISCORD_* variable inherited from this process. */
async function register(cwd: string, env: Record<string, string> = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of Object.keys(childEnv)) if (name.startsWith('DISCORD_') && !(name in env)) delete childEnv[name];
  delete childEnv['MODEL_DIR'];
  const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'cli/discord-register.ts')], {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pusa-register-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function localDiscord(): Promise<LocalDiscord> {
  const local = await startLocalDiscord({ token: TOKEN, applicationId: APP_ID });
  cleanups.push(() => local.close());
  return local;
}

describe('npm run discord:register', () => {
  it('reads .env from the working directory, as npm run bot does, registers the commands and prints the invite', async () => {
    const local = await localDiscord();
    const dir = await tempDir();
    await writeFile(
      join(dir, '.env'),
      [
        `DISCORD_TOKEN=${TOKEN}`,
        `DISCORD_APPLICATION_ID=${APP_ID}`,
        `DISCORD_GUILD_ID=${GUILD_ID}`,
        `DISCORD_API_URL=${local.apiUrl}`,
        `MODEL_DIR=${PACK_DIR}`,
      ].join('\n'),
    );

    const { code, stdout, stderr } = await register(dir);

    expect(stderr).toBe('');
    expect(code).toBe(0);
    const registered = local.commands.get(GUILD_ID) ?? [];
    expect(registered.map((c) => (c as { name: string }).name)).toContain('t2v');
    expect(stdout).toContain(`registered ${registered.length} commands in guild ${GUILD_ID}`);
    expect(stdout).toContain(`invite the bot to a server: ${discordInviteUrl(APP_ID)}`);
  });

  it('lets variables already in the environment win over .env', async () => {
    const local = await localDiscord();
    const dir = await tempDir();
    await writeFile(
      join(dir, '.env'),
      `DISCORD_TOKEN=${TOKEN}\nDISCORD_APPLICATION_ID=${APP_ID}\nDISCORD_GUILD_ID=${GUILD_ID}\nDISCORD_API_URL=http://127.0.0.1:1/api\nMODEL_DIR=${PACK_DIR}\n`,
    );

    const { code } = await register(dir, { DISCORD_API_URL: local.apiUrl });

    expect(code).toBe(0);
    expect(local.commands.get(GUILD_ID)?.length).toBeGreaterThan(0);
  });

  it('names every missing variable in one message and exits 1 when neither .env nor the environment has them', async () => {
    const dir = await tempDir();

    const { code, stderr } = await register(dir);

    expect(code).toBe(1);
    expect(stderr).toMatch(/DISCORD_TOKEN: .*\n.*DISCORD_APPLICATION_ID: /);
  });
});

describe('discordInviteUrl', () => {
  it('asks for the bot and applications.commands scopes and exactly the listed permissions', () => {
    const url = new URL(discordInviteUrl(APP_ID));

    expect(url.origin + url.pathname).toBe('https://discord.com/oauth2/authorize');
    expect(url.searchParams.get('client_id')).toBe(APP_ID);
    expect(url.searchParams.get('scope')?.split(' ')).toEqual(['bot', 'applications.commands']);
    const granted = new PermissionsBitField(BigInt(url.searchParams.get('permissions') ?? '0'));
    expect(granted.toArray().sort()).toEqual(Object.keys(DISCORD_BOT_PERMISSIONS).sort());
    expect(granted.has(PermissionsBitField.Flags.Administrator)).toBe(false);
  });
});
