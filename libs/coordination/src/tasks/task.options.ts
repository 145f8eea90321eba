import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, Max, Min, ValidateNested } from 'class-validator';
import type { TaskBackoff } from './task.types.js';

/**
 * Options of the `tasks` section of `CoordinationModule.forRoot()`.
 *
 * @example
 * CoordinationModule.forRoot({
 *   connection: { url: process.env.REDIS_URL },
 *   tasks: { concurrency: 4, attempts: 5, backoff: { type: 'exponential', delayMs: 500 } },
 * });
 */
export interface TaskModuleOptions {
  /** Default concurrency of a `@TaskHandler` (tasks of one name run at once per instance). Default 1. */
  concurrency?: number;
  /** Default attempts of a task, the first included. Default 3. */
  attempts?: number;
  /** Default wait between attempts. Default `{ type: 'exponential', delayMs: 1_000 }`. */
  backoff?: TaskBackoff;
  /**
   * How long a running task's lock lasts without renewal (renewed at half of it while the worker
   * lives), ms. A worker that dies leaves its tasks locked this long. Default 30_000, at least 1_000.
   */
  lockDurationMs?: number;
  /** How often workers look for tasks whose lock expired (their worker died) and put them back, ms. Default 30_000, at least 1_000. */
  stalledIntervalMs?: number;
  /** How many times a task may be put back after its worker died before it fails. Default 1. */
  maxStalledCount?: number;
  /** Completed tasks kept per task name (newest first), for `get` / `list` / `waitFor`. Default 1_000. */
  keepCompleted?: number;
  /** Failed tasks kept per task name (the dead-letter view). Default 10_000. */
  keepFailed?: number;
  /** How long shutdown waits for running tasks before aborting their signals, ms. Default 10_000. */
  shutdownTimeoutMs?: number;
}

/**
 * @example
 * CoordinationModule.forRoot({ tasks: { ...DEFAULT_TASK_OPTIONS, concurrency: 8 } });
 */
export const DEFAULT_TASK_OPTIONS = {
  concurrency: 1,
  attempts: 3,
  backoff: { type: 'exponential', delayMs: 1_000 },
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 1,
  keepCompleted: 1_000,
  keepFailed: 10_000,
  shutdownTimeoutMs: 10_000,
} as const;

/** The `tasks` section with every default applied. */
export interface ResolvedTaskOptions {
  concurrency: number;
  attempts: number;
  backoff: TaskBackoff;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  keepCompleted: number;
  keepFailed: number;
  shutdownTimeoutMs: number;
}

/** Injection token of the resolved `tasks` options section. */
export const TASK_OPTIONS = Symbol('TASK_OPTIONS');

/** Bounds shared by the schema and the per-call validation of TaskService and @TaskHandler. */
export const TASK_LIMITS = {
  concurrency: { min: 1, max: 1_000 },
  attempts: { min: 1, max: 1_000 },
  backoffDelayMs: { min: 0, max: 86_400_000 },
  delayMs: { min: 0, max: 365 * 86_400_000 },
  lockDurationMs: { min: 1_000, max: 3_600_000 },
  stalledIntervalMs: { min: 1_000, max: 3_600_000 },
  maxStalledCount: { min: 0, max: 1_000 },
  keep: { min: 0, max: 10_000_000 },
  pageLimit: { min: 1, max: 1_000 },
  waitForMs: { min: 1, max: 3_600_000 },
  jobIdLength: 128,
  nameLength: 100,
} as const;

const L = TASK_LIMITS;

class TaskBackoffSchema {
  @IsIn(['fixed', 'exponential']) type!: string;
  @IsInt() @Min(L.backoffDelayMs.min) @Max(L.backoffDelayMs.max) delayMs!: number;
}

/** Validates the `tasks` section of the module options (see TaskModuleOptions). */
export class TaskOptionsSchema {
  @IsOptional() @IsInt() @Min(L.concurrency.min) @Max(L.concurrency.max) concurrency?: number;
  @IsOptional() @IsInt() @Min(L.attempts.min) @Max(L.attempts.max) attempts?: number;
  // IsObject: ValidateNested alone accepts an array (and validates none of its elements).
  @IsOptional() @IsObject() @ValidateNested() @Type(() => TaskBackoffSchema) backoff?: TaskBackoffSchema;
  @IsOptional() @IsInt() @Min(L.lockDurationMs.min) @Max(L.lockDurationMs.max) lockDurationMs?: number;
  @IsOptional() @IsInt() @Min(L.stalledIntervalMs.min) @Max(L.stalledIntervalMs.max) stalledIntervalMs?: number;
  @IsOptional() @IsInt() @Min(L.maxStalledCount.min) @Max(L.maxStalledCount.max) maxStalledCount?: number;
  @IsOptional() @IsInt() @Min(L.keep.min) @Max(L.keep.max) keepCompleted?: number;
  @IsOptional() @IsInt() @Min(L.keep.min) @Max(L.keep.max) keepFailed?: number;
  @IsOptional() @IsInt() @Min(0) @Max(600_000) shutdownTimeoutMs?: number;
}

/** The `tasks` section with its defaults applied (validated by TaskOptionsSchema first). */
export function resolveTaskOptions(section: TaskModuleOptions | undefined): ResolvedTaskOptions {
  const d = DEFAULT_TASK_OPTIONS;
  const raw = section ?? {};
  return {
    concurrency: raw.concurrency ?? d.concurrency,
    attempts: raw.attempts ?? d.attempts,
    backoff: raw.backoff ? { type: raw.backoff.type, delayMs: raw.backoff.delayMs } : { ...d.backoff },
    lockDurationMs: raw.lockDurationMs ?? d.lockDurationMs,
    stalledIntervalMs: raw.stalledIntervalMs ?? d.stalledIntervalMs,
    maxStalledCount: raw.maxStalledCount ?? d.maxStalledCount,
    keepCompleted: raw.keepCompleted ?? d.keepCompleted,
    keepFailed: raw.keepFailed ?? d.keepFailed,
    shutdownTimeoutMs: raw.shutdownTimeoutMs ?? d.shutdownTimeoutMs,
  };
}
