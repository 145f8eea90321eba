import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkObject } from '../errors/check-object.js';
import { MAX_ID_LENGTH, SHARED_TENANT, isTenantId, kindOf } from '../keys/key-builder.js';
import { MAX_SESSIONS_PER_USER, MAX_SESSION_TTL_MS } from './session-limits.js';
import type { ResolvedSessionOptions } from './session.options.js';

/** Longest name of a session data field. */
export const MAX_FIELD_NAME_LENGTH = 256;

/**
 * The per-user limit a `create` applies: `maxPerUser`, or MAX_SESSIONS_PER_USER when it is 0
 * (no limit configured) or above the ceiling; `onMaxPerUser` at either.
 *
 * @example
 * const { maxPerUser, onLimit } = userLimit(sessionOptions); // { maxPerUser: 1000, onLimit: 'evict-oldest' } by default
 */
export function userLimit(options: Pick<ResolvedSessionOptions, 'maxPerUser' | 'onMaxPerUser'>): { maxPerUser: number; onLimit: ResolvedSessionOptions['onMaxPerUser'] } {
  const { maxPerUser, onMaxPerUser } = options;
  return { maxPerUser: maxPerUser === 0 ? MAX_SESSIONS_PER_USER : Math.min(maxPerUser, MAX_SESSIONS_PER_USER), onLimit: onMaxPerUser };
}

/**
 * Whether `tenant` may be the tenant part of a session id: a well-formed tenant id, or the
 * shared namespace (sessions created without a tenant when tenancy is not required). Never
 * throws: a forged id with another tenant part is simply not found.
 *
 * @example
 * isSessionTenant('acme');     // true
 * isSessionTenant('a*b');      // false
 */
export function isSessionTenant(tenant: string): boolean {
  return tenant === SHARED_TENANT || isTenantId(tenant);
}

/**
 * An optional options argument: absent, or an object that is not an array.
 *
 * @example
 * checkOptions(options);             // before reading options.ttlMs
 */
export function checkOptions(value: unknown, argument = 'options'): void {
  if (value === undefined) return;
  checkObject(value, argument);
  if (Array.isArray(value)) throw new InvalidArgumentError(argument, 'must be an object');
}

/**
 * A session id argument: a string (its shape is checked by SessionKeys.parse: a malformed one
 * is not found). Never echoes the value: an id is a bearer secret.
 *
 * @example
 * checkIdArgument(options.except, 'options.except');
 */
export function checkIdArgument(value: unknown, argument = 'id'): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${kindOf(value)}`);
}

/**
 * A user, company or crew id: a non-empty string of at most MAX_ID_LENGTH characters, well-formed Unicode.
 *
 * @example
 * checkName(userId, 'userId');
 */
export function checkName(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${kindOf(value)}`);
  if (value.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (value.length > MAX_ID_LENGTH) throw new InvalidArgumentError(argument, `must be at most ${MAX_ID_LENGTH} characters (got ${value.length})`);
  // Stored in the record body the Redis scripts decode (cjson refuses the escape of a lone surrogate).
  if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(argument, 'must be well-formed Unicode (it holds a lone surrogate)');
}

/**
 * `checkName` of an optional argument; returns it.
 *
 * @example
 * const crewId = optionalName(options?.crewId, 'options.crewId');
 */
export function optionalName(value: unknown, argument: string): string | undefined {
  if (value === undefined) return undefined;
  checkName(value, argument);
  return value;
}

/**
 * A lifetime in ms: an integer from 1 to MAX_SESSION_TTL_MS, or `fallback` when undefined.
 *
 * @throws InvalidArgumentError naming `argument` for NaN, ≤ 0, a fraction or more than 365 days
 * @example
 * const ttlMs = checkTtl(options?.ttlMs, 'options.ttlMs', sessionOptions.ttlMs);
 */
export function checkTtl(value: unknown, argument: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new InvalidArgumentError(argument, 'must be an integer number of ms', value);
  if (value <= 0) throw new InvalidArgumentError(argument, 'must be greater than 0', value);
  if (value > MAX_SESSION_TTL_MS) throw new InvalidArgumentError(argument, `must be at most ${MAX_SESSION_TTL_MS} ms (365 days)`, value);
  return value;
}

/**
 * An optional boolean flag, `fallback` when undefined.
 *
 * @example
 * const touch = checkFlag(options?.touch, 'options.touch', sessionOptions.sliding);
 */
export function checkFlag(value: unknown, argument: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(argument, 'must be a boolean', value);
  return value;
}

/**
 * The `ifVersion` of a compare-and-set update: undefined, or a non-negative safe integer.
 *
 * @example
 * const ifVersion = checkVersion(options?.ifVersion, 'options.ifVersion');
 */
export function checkVersion(value: unknown, argument: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(argument, 'must be a non-negative integer (a session version)', value);
  }
  return value;
}

/** A UTF-16 surrogate without its pair: no UTF-8 form, no URI encoding. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Session data, a patch or metadata: a plain object (`{}` or `Object.create(null)`, not an
 * array, Map or class instance) whose property names are 1-256 characters of well-formed
 * Unicode (no lone surrogate); returns its names.
 *
 * @example
 * for (const name of checkRecord(patch, 'patch')) set[`d:${name}`] = serializer.encode(patch[name]);
 */
export function checkRecord(value: unknown, argument: string): string[] {
  checkObject(value, argument);
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new InvalidArgumentError(argument, `must be a plain object, got ${Array.isArray(value) ? 'an array' : `an instance of ${(value as object).constructor?.name ?? 'a class'}`}`);
  }
  const names = Object.keys(value as object);
  for (const name of names) {
    if (name.length === 0) throw new InvalidArgumentError(argument, 'field names must not be empty');
    if (name.length > MAX_FIELD_NAME_LENGTH) {
      throw new InvalidArgumentError(argument, `field names must be at most ${MAX_FIELD_NAME_LENGTH} characters (got one of ${name.length})`);
    }
    // A lone surrogate has no UTF-8 form: JSON.stringify writes it as a `\ud800` escape, which the
    // Redis scripts' cjson refuses, so a session holding one could never be updated.
    if (LONE_SURROGATE.test(name)) throw new InvalidArgumentError(argument, `field names must be well-formed Unicode, got ${JSON.stringify(name.slice(0, 64))} (a lone surrogate)`);
  }
  return names;
}
