import { checkObject } from '../errors/check-object.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { kindOf } from '../keys/key-builder.js';
import type { NewTask, Page } from './task-backend.interface.js';
import { PRIORITY_MAX, PRIORITY_MIN } from './task-priority.js';
import { TASK_LIMITS, type ResolvedTaskOptions } from './task.options.js';
import type { TaskBackoff, TaskOptions, TaskRef } from './task.types.js';

/**
 * What a task name looks like: a letter or digit, then letters, digits, `.`, `_` or `-`, at most
 * 100 characters in all (it becomes part of BullMQ's queue name and of Redis keys, unencoded).
 *
 * @example
 * TASK_NAME.test('agent.step'); // true
 */
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const BACKOFF_TYPES: ReadonlyArray<unknown> = ['fixed', 'exponential'];
/** Page size of `list` and `failed` without a `limit`. */
const DEFAULT_PAGE_LIMIT = 20;
/** How long `waitFor` waits without a `timeoutMs`. */
const DEFAULT_WAIT_FOR_MS = 30_000;
const MAX_OFFSET = 10_000_000;

/**
 * The name of a task argument (a string or a TaskDefinition), checked against TASK_NAME.
 *
 * @example
 * const name = taskName(AGENT_STEP); // 'agent.step'
 */
export function taskName(task: TaskRef, argument = 'name'): string {
  const name: unknown = typeof task === 'object' && task !== null ? (task as { name?: unknown }).name : task;
  if (typeof name !== 'string') throw new InvalidArgumentError(argument, `must be a task name or a TaskDefinition, got ${kindOf(task)}`);
  if (!TASK_NAME.test(name)) {
    throw new InvalidArgumentError(argument, 'must be 1-100 characters: a letter or digit, then letters, digits, ".", "_" or "-"', name);
  }
  return name;
}

/**
 * A job id: 1-128 characters, no `:` (it separates the name from the job id in a task id) and no
 * control characters.
 *
 * @example
 * checkJobId(options.jobId, 'options.jobId');
 */
export function checkJobId(value: unknown, argument: string): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${kindOf(value)}`);
  if (value.length === 0 || value.length > TASK_LIMITS.jobIdLength) {
    throw new InvalidArgumentError(argument, `must be 1-${TASK_LIMITS.jobIdLength} characters (got ${value.length})`);
  }
  if (value.includes(':') || CONTROL.test(value)) throw new InvalidArgumentError(argument, 'must not contain ":" or control characters', value);
  return value;
}

/**
 * Splits a task id (`<name>:<jobId>`) into its parts; InvalidArgumentError naming `id` when it is not one.
 *
 * @example
 * parseTaskId('agent.step:3f1c…'); // { name: 'agent.step', jobId: '3f1c…' }
 */
export function parseTaskId(id: unknown): { name: string; jobId: string } {
  if (typeof id !== 'string') throw new InvalidArgumentError('id', `must be a task id "<name>:<jobId>", got ${kindOf(id)}`);
  const colon = id.indexOf(':');
  if (colon < 0) throw new InvalidArgumentError('id', 'must be a task id "<name>:<jobId>"', id);
  return { name: taskName(id.slice(0, colon), 'id'), jobId: checkJobId(id.slice(colon + 1), 'id') };
}

/**
 * A payload: anything JSON can carry (no cycles, BigInts, functions or `undefined` at the top).
 *
 * @example
 * checkPayload(payload, 'payload');
 */
export function checkPayload(value: unknown, argument: string | (() => string)): void {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(nameOf(argument), `must be JSON-serializable: ${(error as Error).message}`);
  }
  if (json === undefined) throw new InvalidArgumentError(nameOf(argument), `must be JSON-serializable, got ${kindOf(value)}`);
}

/** An argument's name, built only when an error needs it (enqueueMany checks every item). */
const nameOf = (argument: string | (() => string)): string => (typeof argument === 'string' ? argument : argument());

/**
 * The options of one task with the module's defaults applied, each checked against TASK_LIMITS;
 * a bad one names `<prefix>.<option>`.
 *
 * @example
 * const settings = taskSettings(options, taskOptions, 'options'); // { priority: 0, delayMs: 0, attempts: 3, backoff }
 */
export function taskSettings(options: TaskOptions | undefined, defaults: ResolvedTaskOptions, argument: string | (() => string)): Omit<NewTask, 'jobId' | 'payload'> {
  const o = options ?? {};
  const L = TASK_LIMITS;
  // Absent options (the common case) build no argument name.
  return {
    priority: o.priority === undefined ? 0 : checkInteger(o.priority, `${nameOf(argument)}.priority`, PRIORITY_MIN, PRIORITY_MAX, 0),
    delayMs: o.delayMs === undefined ? 0 : checkInteger(o.delayMs, `${nameOf(argument)}.delayMs`, L.delayMs.min, L.delayMs.max, 0),
    attempts: o.attempts === undefined ? defaults.attempts : checkInteger(o.attempts, `${nameOf(argument)}.attempts`, L.attempts.min, L.attempts.max, defaults.attempts),
    backoff: o.backoff === undefined ? defaults.backoff : checkBackoff(o.backoff, `${nameOf(argument)}.backoff`),
  };
}

const TASK_KEYS = ['priority', 'delayMs', 'attempts', 'backoff', 'jobId'] as const;

/**
 * The keys each options object of the task API accepts: any other key (a typo such as `prio`, a
 * per-item `tenant`) is refused, naming it.
 *
 * @example
 * checkOptions(options, 'options', OPTION_KEYS.enqueue);
 */
export const OPTION_KEYS = {
  enqueue: new Set<string>([...TASK_KEYS, 'tenant']),
  item: new Set<string>([...TASK_KEYS, 'payload']),
  tenant: new Set<string>(['tenant']),
  page: new Set<string>(['limit', 'offset', 'tenant']),
  waitFor: new Set<string>(['timeoutMs', 'tenant']),
  handler: new Set<string>(['concurrency']),
  backoff: new Set<string>(['type', 'delayMs']),
} as const;

/**
 * An optional options argument: absent, or an object that is not an array and has only `known`
 * keys (InvalidArgumentError naming `<argument>.<key>` otherwise).
 *
 * @example
 * checkOptions(options, 'options', OPTION_KEYS.page);
 */
export function checkOptions(value: unknown, argument: string, known: ReadonlySet<string>): void {
  if (value === undefined) return;
  checkObject(value, argument);
  if (Array.isArray(value)) throw new InvalidArgumentError(argument, 'must be an object');
  checkKeys(value as object, argument, known);
}

/**
 * Refuses a key of `value` that is not `known`, naming `<argument>.<key>`.
 *
 * @example
 * checkKeys(item, () => `items[${index}]`, OPTION_KEYS.item);
 */
export function checkKeys(value: object, argument: string | (() => string), known: ReadonlySet<string>): void {
  // for...in, not Object.keys: no array per call (enqueueMany checks every item).
  for (const key in value) {
    if (!known.has(key)) throw new InvalidArgumentError(`${nameOf(argument)}.${key}`, `is not a known option; known options here: ${[...known].join(', ')}`);
  }
}

/**
 * The page of `list` / `failed`: `options.limit` 1-1000 (default 20), `options.offset` >= 0 (default 0).
 *
 * @example
 * const page = checkPage(options); // { offset: 0, limit: 20 }
 */
export function checkPage(options: { limit?: number; offset?: number } | undefined): Page {
  const L = TASK_LIMITS.pageLimit;
  return {
    limit: checkInteger(options?.limit, 'options.limit', L.min, L.max, DEFAULT_PAGE_LIMIT),
    offset: checkInteger(options?.offset, 'options.offset', 0, MAX_OFFSET, 0),
  };
}

/**
 * The `timeoutMs` of `waitFor` (default 30 s), named `options.timeoutMs`.
 *
 * @example
 * const timeoutMs = checkWaitTimeout(options?.timeoutMs);
 */
export function checkWaitTimeout(value: unknown): number {
  return checkInteger(value, 'options.timeoutMs', TASK_LIMITS.waitForMs.min, TASK_LIMITS.waitForMs.max, DEFAULT_WAIT_FOR_MS);
}

/**
 * The concurrency of a `@TaskHandler` (named `options.concurrency`), `fallback` when undefined.
 *
 * @example
 * const concurrency = checkConcurrency(options.concurrency, taskOptions.concurrency);
 */
export function checkConcurrency(value: unknown, fallback: number): number {
  return checkInteger(value, 'options.concurrency', TASK_LIMITS.concurrency.min, TASK_LIMITS.concurrency.max, fallback);
}

function checkBackoff(value: unknown, argument: string): TaskBackoff {
  checkOptions(value, argument, OPTION_KEYS.backoff);
  const { type, delayMs } = value as Partial<TaskBackoff>;
  if (!BACKOFF_TYPES.includes(type)) throw new InvalidArgumentError(`${argument}.type`, 'must be "fixed" or "exponential"', type);
  const L = TASK_LIMITS.backoffDelayMs;
  return { type: type as TaskBackoff['type'], delayMs: checkInteger(delayMs, `${argument}.delayMs`, L.min, L.max, Number.NaN) };
}

function checkInteger(value: unknown, argument: string, min: number, max: number, fallback: number): number {
  if (value === undefined && !Number.isNaN(fallback)) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${min} to ${max}`, value);
  }
  return value;
}
