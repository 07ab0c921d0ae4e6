import { type Origin, parseOrigin, UserError } from '../../commands/index.ts';
import type {
  ClipRecord,
  EnsureUserInput,
  EnsureWorkspaceInput,
  JobRecord,
  Platform,
  Store,
} from '../../prisma/types.ts';
import type { Access, Actor, JobAction } from './access.ts';
import type { SubmitInput } from './front-end.ts';
import type { InputStore } from './inputs.ts';
import { drawSeed } from './seed.ts';

type Request = SubmitInput['request'];
type Target = { jobId: string } | { clipId: string };
type Verdict = (Access & { ok: true; job: JobRecord }) | { ok: false; error: UserError };
/** A request made from an earlier job, with what the front end needs to send it (see `SubmitInput.derivedFrom`). */
export type Remade =
  | { ok: true; request: Request; derivedFrom: string; private: boolean; source: JobRecord }
  | { ok: false; error: UserError };

const IMAGE_TASKS = new Set(['i2v', 'start-end', 'keyframes']);

/**
 * Who is asking and what they may look at, for every front end: the requester's internal ids, a job or clip behind
 * the access rule (Info, Extend, Re-roll, Remix), the request that remakes one, and the few lookups that route a
 * delivery back to its platform.
 */
export function createLookup(deps: {
  store: Store;
  inputs: InputStore;
  /** The front end's cached upserts (the same ones submit uses). */
  ensureUser: (user: EnsureUserInput) => Promise<{ id: string }>;
  ensureWorkspace: (workspace: EnsureWorkspaceInput) => Promise<{ id: string }>;
  authorize: (target: Target, by: Actor, action: JobAction) => Promise<Verdict>;
}) {
  const { store, inputs, authorize } = deps;

  /** The requester in the core's ids: their user and workspace rows, made on first use. */
  async function identify(who: {
    user: EnsureUserInput;
    workspace: EnsureWorkspaceInput;
  }): Promise<{ userId: string; workspaceId: string }> {
    const [user, workspace] = await Promise.all([deps.ensureUser(who.user), deps.ensureWorkspace(who.workspace)]);
    return { userId: user.id, workspaceId: workspace.id };
  }

  /** A workspace's internal id (the playground's own, for its dashboard), made on first use. */
  async function identifyWorkspace(workspace: EnsureWorkspaceInput): Promise<{ workspaceId: string }> {
    return { workspaceId: (await deps.ensureWorkspace(workspace)).id };
  }

  /**
   * The request that continues a clip (Extend, on every front end): the clip's own prompt unless a new one is given,
   * and its steps and frame count, so the continuation matches what it extends; `options` (a command's flags) win.
   */
  async function extendOf(
    clipId: string,
    by: Actor,
    change: { prompt?: string | undefined; options?: Partial<Request> } = {},
  ): Promise<Remade> {
    const verdict = await authorize({ clipId }, by, 'derive');
    if (!verdict.ok) return verdict;
    const p = verdict.job.parameters as Record<string, unknown>;
    const prompt = change.prompt?.trim() ? change.prompt : String(p['prompt'] ?? 'the motion continues');
    return {
      ok: true,
      request: {
        task: 'extend',
        prompt,
        ...pick(p, 'steps', 'number'),
        ...pick(p, 'frames', 'number'),
        ...change.options,
        clips: [{ clipId }],
      },
      derivedFrom: verdict.job.id,
      private: verdict.private,
      source: verdict.job,
    };
  }

  /**
   * The request that remakes a job, one behaviour on every front end:
   * - Re-roll: everything as it was (task, prompt, negative prompt, steps, guidance, frames, size, motion, the clips
   *   it continued, the images it was made from) with a fresh seed;
   * - Remix: the same with a new prompt, the seed kept, so only the words change.
   * Image tasks reuse the images kept when the job was submitted (bot/core/inputs.ts); when they are gone the user is
   * told to send them again.
   */
  async function remake(
    target: Target,
    by: Actor,
    change: { kind: 'reroll' } | { kind: 'remix'; prompt: string },
  ): Promise<Remade> {
    const verdict = await authorize(target, by, 'derive');
    if (!verdict.ok) return verdict;
    const { job } = verdict;
    const images = IMAGE_TASKS.has(job.task) ? await inputs.load(job.id) : [];
    if (images === undefined || (IMAGE_TASKS.has(job.task) && images.length === 0))
      return {
        ok: false,
        error: new UserError(
          'NotFound',
          'the input images of that clip are no longer kept; run `/animate` or `/keyframes` again with them',
        ),
      };
    const p = job.parameters as Record<string, unknown>;
    const clips = Array.isArray(p['clips'])
      ? (p['clips'] as { clipId?: unknown }[]).flatMap((c) =>
          typeof c.clipId === 'string' ? [{ clipId: c.clipId }] : [],
        )
      : [];
    return {
      ok: true,
      request: {
        task: job.task as Request['task'],
        prompt: change.kind === 'remix' && change.prompt.trim() !== '' ? change.prompt : String(p['prompt'] ?? ''),
        ...pick(p, 'negativePrompt', 'string'),
        ...pick(p, 'steps', 'number'),
        ...pick(p, 'guidance', 'number'),
        ...pick(p, 'frames', 'number'),
        ...pick(p, 'overlap', 'number'),
        ...(isSize(p['size']) ? { size: p['size'] } : {}),
        ...(Array.isArray(p['noiseMultipliers']) ? { noiseMultipliers: p['noiseMultipliers'] as number[] } : {}),
        ...(change.kind === 'reroll' ? { seed: drawSeed() } : pick(p, 'seed', 'number')),
        ...(clips.length === 0 ? {} : { clips }),
        ...(images.length === 0 ? {} : { images }),
      },
      derivedFrom: job.id,
      private: verdict.private,
      source: job,
    };
  }

  return {
    identify,
    identifyWorkspace,
    /** Info: the job (and its clip) when the actor may see its parameters. */
    info: (target: Target, by: Actor) => authorize(target, by, 'see'),
    extendOf,
    remake,
    /** The user's recent clips (autocomplete, pickers), newest first. */
    recentClips: (userId: string, limit = 25) => store.recentClips(userId, limit),
    /**
     * Where a job was posted and its prompt, for a front end routing a delivery or a progress update back to its
     * message after a restart. No user asks here, so no access rule applies; nothing else of the job is given.
     */
    async postedAt(jobId: string): Promise<{ origin: Origin | undefined; prompt: string } | null> {
      const job = await store.job(jobId);
      if (job === null) return null;
      return { origin: parseOrigin(job.origin), prompt: String(job.parameters['prompt'] ?? '') };
    },
    /**
     * A clip's stored file for a viewer: an operator, or its owner by platform identity; null for anyone else, so a
     * clip that is not theirs does not exist to them.
     */
    async clipFor(clipId: string, viewer: 'operator' | { platform: Platform; externalId: string }) {
      const clip: ClipRecord | null = await store.clip(clipId);
      if (clip === null || viewer === 'operator') return clip;
      const owner = await store.findUser(viewer.platform, viewer.externalId);
      return owner?.id === clip.userId ? clip : null;
    },
  };
}
export type Lookup = ReturnType<typeof createLookup>;

function pick<TKind extends 'string' | 'number'>(
  params: Record<string, unknown>,
  key: string,
  kind: TKind,
): Record<string, TKind extends 'string' ? string : number> {
  const value = params[key];
  return typeof value === kind ? { [key]: value as TKind extends 'string' ? string : number } : {};
}

function isSize(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number');
}
