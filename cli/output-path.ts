import { existsSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { sidecarPathFor } from '../media/sidecar.ts';
import { UsageError } from './usage-error.ts';

/** Where a CLI run will write its MP4, decided before any sampling so a bad path costs nothing. */
export interface OutputPlan {
  /** The path the user named with `--output`, or undefined for a fresh name under `out/`. */
  readonly explicit: string | undefined;
  /** The folder the file goes into (already created). */
  readonly dir: string;
}

/**
 * Checks `--output` (an `.mp4` path that is not a folder, in a folder we can create) and creates its folder, so a
 * mistake is reported before minutes of sampling rather than after.
 */
export async function planOutput(output: string | undefined, defaultDir = 'out'): Promise<OutputPlan> {
  if (output === undefined) {
    const dir = resolve(defaultDir);
    await createFolder(dir, 'the default output folder');
    return { explicit: undefined, dir };
  }
  const path = resolve(output);
  if (existsSync(path) && (await stat(path)).isDirectory())
    throw new UsageError(`--output ${output} is a folder; name a file such as ${output.replace(/\/?$/, '/clip.mp4')}`);
  if (extname(path).toLowerCase() !== '.mp4')
    throw new UsageError(`--output must name an .mp4 file (its latents go beside it as .latents), got "${output}"`);
  await createFolder(dirname(path), `the folder of --output ${output}`);
  return { explicit: path, dir: dirname(path) };
}

/**
 * Writes the MP4 where `plan` says. A named `--output` is replaced if it exists (the user asked for that path;
 * `replaced` tells the caller to say so). A default name is `<stem>.mp4`, else `<stem>-2.mp4`, `-3`, … : the first
 * whose MP4 and `.latents` both do not exist, claimed with an exclusive create so two runs never share one.
 */
export async function writeOutput(
  plan: OutputPlan,
  stem: string,
  mp4: Uint8Array,
): Promise<{ path: string; replaced: boolean }> {
  if (plan.explicit !== undefined) {
    const replaced = existsSync(plan.explicit);
    const file = await open(plan.explicit, 'w');
    try {
      await file.writeFile(mp4);
    } finally {
      await file.close();
    }
    return { path: plan.explicit, replaced };
  }
  for (let n = 1; n < 10_000; n++) {
    const path = resolve(plan.dir, `${stem}${n === 1 ? '' : `-${n}`}.mp4`);
    if (existsSync(sidecarPathFor(path))) continue;
    const file = await open(path, 'wx').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return undefined;
      throw error;
    });
    if (file === undefined) continue;
    try {
      await file.writeFile(mp4);
    } finally {
      await file.close();
    }
    return { path, replaced: false };
  }
  throw new UsageError(`${plan.dir} already holds ${stem}.mp4 to ${stem}-9999.mp4; name the file with --output`);
}

async function createFolder(dir: string, what: string): Promise<void> {
  await mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot create ${what} (${dir}): ${error.code ?? error.message}`);
  });
}
