/** Rows as the generated client returns them, and the store's records made from them. */
import type { Prisma } from './generated/sqlite/client.ts';
import {
  type BlockRuleRecord,
  type ClipRecord,
  IN_FLIGHT_STATUSES,
  type JobRecord,
  type JsonObject,
  type ReserveInput,
  type Task,
  type UserRecord,
  type WorkspaceRecord,
} from './types.ts';

export type Tx = Prisma.TransactionClient;

export type JobRow = Prisma.JobGetPayload<{ include: { clip: true } }>;
export type ClipRow = Prisma.ClipGetPayload<object>;
export type UserRow = Prisma.UserGetPayload<object>;
export type WorkspaceRow = Prisma.WorkspaceGetPayload<object>;
export type BlockRuleRow = Prisma.BlockRuleGetPayload<object>;

export const withClip = { clip: true } as const;
export const inFlight = { in: [...IN_FLIGHT_STATUSES] };

/** Maps Prisma's enum value for `start-end` (enum values cannot contain '-'). */
export function taskToDb(task: Task): Prisma.JobCreateInput['task'] {
  return task === 'start-end' ? 'start_end' : task;
}

export function taskFromDb(task: JobRow['task']): Task {
  return task === 'start_end' ? 'start-end' : task;
}

export function toClip(row: ClipRow): ClipRecord {
  return {
    id: row.id,
    jobId: row.jobId,
    userId: row.userId,
    parentClipId: row.parentClipId,
    secondParentClipId: row.secondParentClipId,
    mp4Path: row.mp4Path,
    latentsPath: row.latentsPath,
    frames: row.frames,
    width: row.width,
    height: row.height,
    fps: row.fps,
    sizeBytes: row.bytes,
    seed: Number(row.seed),
    createdAt: row.createdAt,
  };
}

export function toJob(row: JobRow): JobRecord {
  return {
    id: row.id,
    requestKey: row.requestKey,
    userId: row.userId,
    workspaceId: row.workspaceId,
    task: taskFromDb(row.task),
    parameters: row.parameters as JsonObject,
    status: row.status,
    estimatedSeconds: row.estimatedSeconds,
    reservedSeconds: row.reservedSeconds,
    chargedSeconds: row.chargedSeconds,
    attempts: row.attempts,
    workerId: row.workerId,
    error: row.errorCode === null ? null : { code: row.errorCode, message: row.errorMessage ?? '' },
    origin: row.origin as JsonObject,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    deletedAt: row.deletedAt,
    clip: row.clip === null ? null : toClip(row.clip),
  };
}

export function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    platform: row.platform,
    externalId: row.externalId,
    displayName: row.displayName,
    banned: row.banned,
    banReason: row.banReason,
    dailyGpuSeconds: row.dailyGpuSeconds,
    maxQueuedJobs: row.maxQueuedJobs,
    createdAt: row.createdAt,
  };
}

export function toWorkspace(row: WorkspaceRow): WorkspaceRecord {
  return {
    id: row.id,
    platform: row.platform,
    externalId: row.externalId,
    name: row.name,
    dailyBudgetSeconds: row.dailyBudgetSeconds,
    userDailyGpuSeconds: row.userDailyGpuSeconds,
    userMaxQueuedJobs: row.userMaxQueuedJobs,
    createdAt: row.createdAt,
  };
}

export function toRule(row: BlockRuleRow): BlockRuleRecord {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    pattern: row.pattern,
    kind: row.kind,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

/** A unique index refused a row: P2002 from the model API, or a raw statement's driver error (P2010) of that kind. */
export function isUniqueViolation(error: unknown): boolean {
  const failure = error as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } } | null;
  if (failure?.code === 'P2002') return true;
  return failure?.code === 'P2010' && failure.meta?.driverAdapterError?.cause?.kind === 'UniqueConstraintViolation';
}

export function isRecordNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2025';
}

export function promptOf(input: ReserveInput): string | undefined {
  if (input.prompt !== undefined) return input.prompt;
  const prompt = input.parameters['prompt'];
  return typeof prompt === 'string' ? prompt : undefined;
}
