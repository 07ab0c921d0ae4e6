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
      /**
       * A /long job: which segment `step`/`total` are of; `etaMs` above is then the whole chain's (this segment's
       * rest plus the segments after it).
       */
      segment?: { index: number; count: number };
    }
  | { kind: 'requeued'; jobId: string; reason: string }
  /**
   * A /long job finished segment `index` of `count`: its own MP4 (the frames it made, the repeated ones at its
   * start included), on the bot host, to post as it lands. Best effort: a front end may miss one; the final
   * delivery holds them all.
   */
  | {
      kind: 'segment';
      jobId: string;
      index: number;
      count: number;
      prompt: string;
      mp4Path: string;
      mp4Absolute: string;
      frames: number;
      bytes: number;
    };

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
      /**
       * A /long job: `segments` of `of` made and joined into this clip (fewer when it was cancelled or a segment
       * failed: `stopped` says why; only the segments made were charged).
       */
      long?: {
        segments: number;
        of: number;
        stopped?: { reason: 'cancelled' | 'failed'; message: string };
        /**
         * The joined clip is over the destination's upload limit even at the lowest quality: post a link to it
         * (the playground's `/clips/<clipId>.mp4`) instead of uploading it.
         */
        overLimit?: boolean;
      };
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
