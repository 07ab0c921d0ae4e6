import { z } from 'zod';

/**
 * What the core keeps beside a request in the store's `parameters` (the parsed `GenerationRequest` is the rest): read
 * back by the reconciler, the delivery consumer and the front ends. Each field is dropped when it is not well formed,
 * so a row written by another version still reads.
 */
const Extras = z
  .object({
    /** The id users see with every answer and failure, to match a report to a log line. */
    requestId: z.string().min(1).optional().catch(undefined),
    /** The destination's upload limit the job was submitted with, bytes. */
    maxBytes: z.int().positive().optional().catch(undefined),
    /** The clip this one continues (extend) or starts from (transition). */
    parentClipId: z.string().min(1).optional().catch(undefined),
    /** The clip a transition ends on. */
    secondParentClipId: z.string().min(1).optional().catch(undefined),
    /** A /long job: its chain's shape (bot/core/long.ts). */
    long: z
      .object({ segments: z.int().positive(), segmentFrames: z.int().positive(), prompts: z.array(z.string()) })
      .optional()
      .catch(undefined),
  })
  .catch({});

export interface StoredJobExtras {
  readonly requestId?: string;
  readonly maxBytes?: number;
  readonly parentClipId?: string;
  readonly secondParentClipId?: string;
  readonly long?: { segments: number; segmentFrames: number; prompts: string[] };
}

/** The extras of a job's stored `parameters` (see `StoredJobExtras`); fields that are absent or malformed are left out. */
export function parseStoredJobExtras(parameters: unknown): StoredJobExtras {
  const { requestId, maxBytes, parentClipId, secondParentClipId, long } = Extras.parse(parameters);
  return {
    ...(requestId === undefined ? {} : { requestId }),
    ...(maxBytes === undefined ? {} : { maxBytes }),
    ...(parentClipId === undefined ? {} : { parentClipId }),
    ...(secondParentClipId === undefined ? {} : { secondParentClipId }),
    ...(long === undefined ? {} : { long }),
  };
}
