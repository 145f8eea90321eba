import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkObject } from '../errors/check-object.js';
import { assertSafeId } from '../keys/key-builder.js';
import { LockAbortedError } from './lock.errors.js';
import type { ResolvedLockOptions } from './lock.options.js';
import type { AcquireOptions } from './lock.types.js';

export interface CheckedAcquire {
  ttlMs: number;
  waitMs: number;
  priority: number;
  reentrant: boolean;
  autoRenew: boolean;
  maxHoldMs?: number;
}

const PRIORITY_LIMIT = 1_000;
/** Below this a lock expires before its first renewal round trip could land. */
export const MIN_TTL_MS = 10;

function duration(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new InvalidArgumentError(name, 'must be a number', value);
  if (!Number.isFinite(value)) throw new InvalidArgumentError(name, 'must be finite', value);
  if (value < min || (min === 0 ? false : value <= 0)) throw new InvalidArgumentError(name, min === 0 ? 'must not be negative' : 'must be greater than 0', value);
  if (value > max) throw new InvalidArgumentError(name, `must be at most ${max} ms (option locks.maxTtlMs)`, value);
  return Math.ceil(value);
}

/** Checks the key and options of an acquisition before any Redis call; throws typed errors naming the argument. */
/** An options argument must be an object (a typed error, not a TypeError or a silently ignored string). */
export function checkOptions<T>(options: T): T {
  checkObject(options, 'options');
  return options;
}

export function checkAcquire(key: unknown, options: AcquireOptions, defaults: ResolvedLockOptions, defaultWaitMs: number): CheckedAcquire {
  assertSafeId(key, 'key');
  checkOptions(options);
  const ttlMs = checkTtl(options.ttlMs ?? defaults.defaultTtlMs, defaults.maxTtlMs);
  const waitMs = duration('waitMs', options.waitMs ?? defaultWaitMs, 0, defaults.maxTtlMs);
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || Math.abs(priority) > PRIORITY_LIMIT) {
    throw new InvalidArgumentError('priority', `must be an integer from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}`, priority);
  }
  const maxHoldMs = options.maxHoldMs === undefined ? undefined : duration('maxHoldMs', options.maxHoldMs, 1, Number.MAX_SAFE_INTEGER);
  if (options.owner !== undefined) assertSafeId(options.owner, 'owner');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', 'must be an AbortSignal', options.signal);
  }
  checkFlag('reentrant', options.reentrant);
  checkFlag('autoRenew', options.autoRenew);
  return { ttlMs, waitMs, priority, reentrant: options.reentrant ?? false, autoRenew: options.autoRenew ?? defaults.autoRenew, maxHoldMs };
}

function checkFlag(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidArgumentError(name, 'must be a boolean', value);
}

/** A lock TTL (acquire or extend): a number of ms from MIN_TTL_MS to `maxTtlMs`, rounded up to whole ms. */
export function checkTtl(ttlMs: unknown, maxTtlMs: number): number {
  const value = duration('ttlMs', ttlMs, 1, maxTtlMs);
  if (value < MIN_TTL_MS) throw new InvalidArgumentError('ttlMs', `must be at least ${MIN_TTL_MS} ms`, ttlMs);
  return value;
}

/** A signal already aborted fails before any Redis call. */
export function checkNotAborted(key: string, tenant: string, signal?: AbortSignal): void {
  if (signal?.aborted) throw new LockAbortedError(key, tenant, signal.reason);
}

export function checkPermits(permits: unknown): number {
  if (typeof permits !== 'number' || !Number.isInteger(permits) || permits < 1 || permits > 1_000_000) {
    throw new InvalidArgumentError('permits', 'must be an integer from 1 to 1000000', permits);
  }
  return permits;
}
