import type { Origin } from '../../commands/index.ts';

/** What the core tells front ends as a job moves; adapters render these on their platform. */
export type JobUpdate =
  | { kind: 'started'; jobId: string; workerId: string | undefined }
  | {
      kind: 'progress';
      jobId: string;
      workerId?: string;
      step: number;
      total: number;
      etaMs: number;
      preview?: { width: number; height: number; rgbBase64: string };
    }
  | { kind: 'requeued'; jobId: string; reason: string };

/** A finished job as delivered to its origin. */
export type Delivery =
  | {
      kind: 'succeeded';
      jobId: string;
      requestId: string;
      origin: Origin;
      clipId: string;
      mp4Path: string;
      mp4Absolute: string;
      bytes: number;
      frames: number;
      parameters: Record<string, unknown>;
      gpuSeconds: number;
    }
  | { kind: 'failed'; jobId: string; requestId: string; origin: Origin; code: string; message: string }
  | { kind: 'cancelled'; jobId: string; requestId: string; origin: Origin };

/**
 * Thrown by a front end's `deliver` when the result can never be posted (a private result whose interaction token is
 * gone): the delivery ends at once instead of being retried for a day, and the job is failed and refunded.
 */
export class UndeliverableError extends Error {
  override readonly name = 'UndeliverableError';
}
