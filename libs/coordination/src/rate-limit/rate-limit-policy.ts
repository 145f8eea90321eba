import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkObject } from '../errors/check-object.js';
import { keyTail, type KeyTail } from '../keys/key-builder.js';
import { RATE_LIMIT_ALGORITHMS, type RateLimitAlgorithm, type RateLimitPolicy } from './rate-limit.types.js';

/** Algorithm codes as the Lua scripts and the memory store know them (ALGO[code]). */
export const ALGORITHM_CODE: Readonly<Record<RateLimitAlgorithm, number>> = {
  'sliding-window': 1,
  'sliding-window-approx': 2,
  'fixed-window': 3,
  'token-bucket': 4,
  gcra: 5,
};

/** The algorithm's segment of a counter key (see RateLimitService): its data type differs, so it names the counter. */
export const ALGORITHM_SEGMENT: Readonly<Record<RateLimitAlgorithm, string>> = {
  'sliding-window': 'sw',
  'sliding-window-approx': 'swa',
  'fixed-window': 'fw',
  'token-bucket': 'tb',
  gcra: 'gcra',
};

/** Windows above 400 days are almost certainly a unit mistake (seconds passed as ms × 1000). */
const MAX_WINDOW_MS = 400 * 24 * 3_600_000;
const MAX_LIMIT = 1_000_000_000;
/** sliding-window keeps one sorted-set member per admitted unit: bound the memory and the work of one call. */
const MAX_SLIDING_WINDOW_LIMIT = 100_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * A validated policy with its defaults applied, and what every check under it derives from it
 * (its counter key tail, its script arguments), computed once here rather than looked up per call.
 * Frozen and safe to reuse across calls.
 */
export interface NormalizedPolicy {
  readonly name: string;
  readonly algorithm: RateLimitAlgorithm;
  readonly code: number;
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
  /** The end of its counter keys: `:<algorithm segment>:<name>` (see RateLimitService). */
  readonly keyTail: KeyTail;
  /**
   * Its arguments in a single-algorithm check script (see lua/include/prelude.lua): limit, window
   * (ms), then burst for token-bucket and gcra ('' when it is the limit: the scripts read that as the limit).
   */
  readonly args: readonly string[];
  /** The whole argument list of a single-policy consume of cost 1 on the server clock: `['1', ...args]`. */
  readonly consumeOne: readonly string[];
}

function positiveInteger(value: unknown, argument: string, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new InvalidArgumentError(argument, 'must be a number', value);
  if (!Number.isFinite(value)) throw new InvalidArgumentError(argument, 'must be finite', value);
  if (!Number.isInteger(value)) throw new InvalidArgumentError(argument, 'must be an integer', value);
  if (value <= 0) throw new InvalidArgumentError(argument, 'must be greater than 0', value);
  if (value > max) throw new InvalidArgumentError(argument, `must be at most ${max}`, value);
  return value;
}

/** A policy object's fields as last validated, and the result. */
interface CachedPolicy {
  readonly limit: unknown;
  readonly windowMs: unknown;
  readonly algorithm: unknown;
  readonly burst: unknown;
  readonly name: unknown;
  readonly normalized: NormalizedPolicy;
}

// Callers pass the same policy object on every call (a constant, decorator metadata), so
// the validated result is remembered per object. The fields are compared on every hit, so
// a policy object mutated since is validated afresh; only successes are cached.
const VALIDATED = new WeakMap<object, CachedPolicy>();

/**
 * Policies validated before, by their fields' values: a caller writing the policy inline
 * (`consume(key, { limit: 10, windowMs: 1_000 })`) passes a new object per call, and validating
 * and building it again cost several times the rest of the call. Bounded: cleared when full.
 */
const BY_CONTENT = new Map<string, NormalizedPolicy>();
const MAX_BY_CONTENT = 1_000;

/**
 * The fields of `policy` as one string, when each has a type a valid policy can have (else
 * undefined: such a policy is validated, and fails, every time). Numbers print without ':', so
 * every part is unambiguous; the name, which may hold anything, comes last.
 */
function contentOf(policy: RateLimitPolicy): string | undefined {
  const { limit, windowMs, algorithm, burst, name } = policy as { [K in keyof RateLimitPolicy]: unknown };
  if (typeof limit !== 'number' || typeof windowMs !== 'number') return undefined;
  if (algorithm !== undefined && (typeof algorithm !== 'string' || !Object.hasOwn(ALGORITHM_CODE, algorithm))) return undefined;
  if (burst !== undefined && typeof burst !== 'number') return undefined;
  if (name !== undefined && typeof name !== 'string') return undefined;
  return `${algorithm ?? ''}:${limit}:${windowMs}:${burst ?? ''}:${name === undefined ? '' : `=${name}`}`;
}

/**
 * Validates a policy; throws `InvalidArgumentError` naming the offending field
 * (`limit`, `windowMs`, `algorithm`, `burst`, `name`). `path` prefixes the name, e.g. `policies[1].limit`.
 */
export function normalizePolicy(policy: RateLimitPolicy, path = ''): NormalizedPolicy {
  // `path` prefixes the fields' names (`checks[0].policy.`): the policy itself is that path without its dot.
  if (typeof policy !== 'object' || policy === null) checkObject(policy, path === '' ? 'policy' : path.replace(/\.$/, ''));
  const cached = VALIDATED.get(policy);
  if (
    cached !== undefined && cached.limit === policy.limit && cached.windowMs === policy.windowMs &&
    cached.algorithm === policy.algorithm && cached.burst === policy.burst && cached.name === policy.name
  ) {
    return cached.normalized;
  }
  // Validate a snapshot, so that what is cached is exactly what was validated.
  const fields = { limit: policy.limit, windowMs: policy.windowMs, algorithm: policy.algorithm, burst: policy.burst, name: policy.name };
  const content = contentOf(fields);
  const known = content === undefined ? undefined : BY_CONTENT.get(content);
  // Not remembered per object: an inline policy is garbage after this call, and a WeakMap
  // entry per call cost more than the lookup by content it would save.
  if (known !== undefined) return known;
  const normalized = validate(fields, path);
  if (content !== undefined) {
    if (BY_CONTENT.size >= MAX_BY_CONTENT) BY_CONTENT.clear();
    BY_CONTENT.set(content, normalized);
  }
  VALIDATED.set(policy, { ...fields, normalized });
  return normalized;
}

function validate(policy: RateLimitPolicy, path: string): NormalizedPolicy {
  const limit = positiveInteger(policy.limit, `${path}limit`, MAX_LIMIT);
  const windowMs = positiveInteger(policy.windowMs, `${path}windowMs`, MAX_WINDOW_MS);
  const algorithm = policy.algorithm ?? 'sliding-window';
  if (!RATE_LIMIT_ALGORITHMS.includes(algorithm)) {
    throw new InvalidArgumentError(`${path}algorithm`, `must be one of ${RATE_LIMIT_ALGORITHMS.join(', ')}`, algorithm);
  }
  if (algorithm === 'sliding-window' && limit > MAX_SLIDING_WINDOW_LIMIT) {
    throw new InvalidArgumentError(
      `${path}limit`,
      `must be at most ${MAX_SLIDING_WINDOW_LIMIT} for sliding-window: each admitted unit is one sorted-set member (use sliding-window-approx, token-bucket or gcra for larger limits)`,
      limit,
    );
  }
  let burst = limit;
  if (policy.burst !== undefined) {
    if (algorithm !== 'token-bucket' && algorithm !== 'gcra') {
      throw new InvalidArgumentError(`${path}burst`, 'only applies to the token-bucket and gcra algorithms', policy.burst);
    }
    burst = positiveInteger(policy.burst, `${path}burst`, MAX_LIMIT);
  }
  const name = policy.name ?? `${limit}-per-${windowMs}ms`;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidArgumentError(`${path}name`, 'must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit', name);
  }
  return build(name, algorithm, limit, windowMs, burst);
}

/** A normalized policy from validated fields, with what is derived from them. */
function build(name: string, algorithm: RateLimitAlgorithm, limit: number, windowMs: number, burst: number): NormalizedPolicy {
  const args = algorithm === 'token-bucket' || algorithm === 'gcra'
    ? [String(limit), String(windowMs), burst === limit ? '' : String(burst)]
    : [String(limit), String(windowMs)];
  return Object.freeze({
    name, algorithm, code: ALGORITHM_CODE[algorithm], limit, windowMs, burst,
    keyTail: keyTail({ suffix: ALGORITHM_SEGMENT[algorithm], parts: [name] }),
    args: Object.freeze(args),
    consumeOne: Object.freeze(['1', ...args]),
  });
}

/**
 * `policy` with another limit and burst (the local fallback's per-instance share): the same
 * counters (key tail), its script arguments recomputed.
 */
export function resizePolicy(policy: NormalizedPolicy, limit: number, burst: number): NormalizedPolicy {
  return build(policy.name, policy.algorithm, limit, policy.windowMs, burst);
}

/** The most units one call may take under `policy`: the bucket size for token bucket / GCRA. */
export function capacityOf(policy: NormalizedPolicy): number {
  return policy.algorithm === 'token-bucket' || policy.algorithm === 'gcra' ? policy.burst : policy.limit;
}

/** Validates `cost` (default 1) against every policy of a check. */
export function normalizeCost(cost: unknown, policies: readonly NormalizedPolicy[]): number {
  if (cost === undefined) return 1;
  const value = positiveInteger(cost, 'cost', MAX_LIMIT);
  for (const policy of policies) {
    const capacity = capacityOf(policy);
    if (value > capacity) {
      throw new InvalidArgumentError('cost', `must not exceed the ${policy.algorithm === 'token-bucket' || policy.algorithm === 'gcra' ? 'burst' : 'limit'} (${capacity}) of policy "${policy.name}": it could never be allowed`, value);
    }
  }
  return value;
}


/** `since` of a violation query in ms: a Date or a number (not a numeric string, a BigInt, ...); none is -Infinity. */
export function sinceOf(since: unknown): number {
  if (since === undefined) return -Infinity;
  const ms = since instanceof Date ? since.getTime() : typeof since === 'number' ? since : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('since', 'must be a Date or a number of ms since the epoch', since);
  return ms;
}
