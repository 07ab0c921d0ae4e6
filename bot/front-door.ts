import type { Service } from './service.ts';

/**
 * What a platform adapter (bot/discord, bot/slack, bot/web) is given of the service: the front-end core, the model
 * pack's manifest, the artifact store's file paths and the small replay and note records. Never the store or the
 * queue: every decision goes through the core (test/architecture.test.ts checks the adapters, and this type makes
 * the compiler refuse a `service.store` or `service.generate` there).
 */
export type FrontDoor = Pick<
  Service,
  'frontEnd' | 'pack' | 'artifacts' | 'firstSeen' | 'forget' | 'remember' | 'recall'
>;
