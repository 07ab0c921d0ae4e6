import type { HostTensor, ModelSession } from './sessions.ts';

/**
 * A session that exists only while a stage uses it: opened on the first `run` inside `stage`, released when the
 * last overlapping `stage` call ends. onnxruntime keeps a session's CUDA arena at its peak for the session's life, so
 * a worker on a 24–48 GB GPU holds the text encoder and the VAE only while it encodes or decodes (memory profiles,
 * worker/runtime/memory-profile.ts) and pays their opening time instead.
 */
export interface StagedSession extends ModelSession {
  /** Runs `fn` with the session available; it is released when no other stage holds it any more. */
  stage<T>(fn: () => Promise<T>): Promise<T>;
  /** Opens the session once and releases it: a pack whose graph does not match its manifest fails at load. */
  verify(): Promise<void>;
  /** How many times the session was opened (for logs and tests). */
  readonly opened: number;
}

export function createStagedSession(label: string, open: () => Promise<ModelSession>): StagedSession {
  let current: Promise<ModelSession> | undefined;
  let holders = 0;
  let opened = 0;
  const ensure = () => {
    if (current === undefined) {
      opened += 1;
      current = open();
      current.catch(() => {
        current = undefined;
      });
    }
    return current;
  };
  const close = async () => {
    const session = current;
    current = undefined;
    if (session !== undefined) await (await session).release();
  };
  return {
    label,
    get opened() {
      return opened;
    },
    async run(feeds: Readonly<Record<string, HostTensor>>) {
      if (holders === 0) throw new Error(`${label}: run outside a stage (the session would never be released)`);
      return (await ensure()).run(feeds);
    },
    verify() {
      return this.stage(async () => {
        await ensure();
      });
    },
    async stage(fn) {
      holders += 1;
      try {
        return await fn();
      } finally {
        holders -= 1;
        if (holders === 0) await close();
      }
    },
    release: close,
  };
}
