import type { Delivery, JobUpdate } from './events.ts';

/** One front end's handlers. Updates go to every front end (each ignores jobs it did not start). */
export interface FrontEndHandlers {
  deliver(delivery: Delivery): Promise<void>;
  update?(update: JobUpdate): void;
}

/**
 * Routes the delivery consumer's output to the front end that owns each job (by `origin.platform`), so Discord,
 * Slack and the playground can share one bot host.
 */
export function createHub() {
  const handlers = new Map<string, FrontEndHandlers>();
  return {
    register(platform: string, handler: FrontEndHandlers): void {
      handlers.set(platform, handler);
    },
    async deliver(delivery: Delivery): Promise<void> {
      const { platform } = delivery.origin;
      const handler = handlers.get(platform);
      if (handler === undefined)
        throw new Error(
          `no front end is registered for ${platform}; the delivery of ${delivery.jobId} will be retried`,
        );
      await handler.deliver(delivery);
    },
    update(update: JobUpdate): void {
      for (const handler of handlers.values()) handler.update?.(update);
    },
  };
}
export type Hub = ReturnType<typeof createHub>;
