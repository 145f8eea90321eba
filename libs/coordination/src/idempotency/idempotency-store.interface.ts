/**
 * The key of one idempotency record: `<prefix>:<tenant>:idempotency:{<resource>}`, the resource
 * being the namespace and the key joined by '\n' (`core.keys.key(tenant, 'idempotency',
 * namespace + '\n' + key)`, encoded by the key builder), built by IdempotencyClaims. The
 * namespace is the caller's (`options.namespace` of IdempotencyService, '' by default) or, over
 * HTTP, `u:<user>` / `t` (the route's scope). One key per record, so every script runs on one
 * cluster slot.
 */
export type IdempotencyRecordKey = string;

/** What `begin` found under the key, and what the caller may do. */
export type BeginResult =
  /** No record (or an expired one): the caller owns the key until `complete` / `abandon` or its lease expires. */
  | { kind: 'acquired' }
  /** Another attempt with the same fingerprint holds the key; its lease ends in `retryAfterMs` unless renewed. */
  | { kind: 'in-flight'; retryAfterMs: number }
  /** A finished attempt with the same fingerprint: its stored outcome (as given to `complete`). */
  | { kind: 'completed'; outcome: string }
  /** The key belongs to a different request (another fingerprint), running or finished. */
  | { kind: 'mismatch' };

/**
 * Atomic primitives of idempotency records (Lua on Redis, one round trip each; the same contract
 * in memory). A record is either in flight (owned by one attempt, living `leaseMs` unless renewed)
 * or completed (an outcome string kept `ttlMs`). Check-and-lock is one operation (`begin`).
 * Fingerprints, owners and outcomes are opaque strings to the store.
 *
 * @example
 * const begun = await store.begin(key, fingerprint, owner, 30_000);
 * if (begun.kind === 'acquired') {
 *   const outcome = await work();
 *   await store.complete(key, owner, outcome, 86_400_000);
 * }
 */
export interface IdempotencyStore {
  /**
   * Check-and-lock: with no live record, writes an in-flight record owned by `owner` (lease
   * `leaseMs`) and answers `acquired`; otherwise answers what the record is (a record of another
   * fingerprint is a `mismatch`, whatever its state).
   */
  begin(key: IdempotencyRecordKey, fingerprint: string, owner: string, leaseMs: number): Promise<BeginResult>;
  /** Extends an in-flight record's lease; false when `owner` no longer holds it (expired, completed, taken over). */
  renew(key: IdempotencyRecordKey, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Turns `owner`'s in-flight record into a completed one holding `outcome`, kept `ttlMs`. False
   * (nothing written) when `owner` no longer holds it: its lease expired and another attempt may run.
   */
  complete(key: IdempotencyRecordKey, owner: string, outcome: string, ttlMs: number): Promise<boolean>;
  /** Deletes `owner`'s in-flight record, so the key may be tried again; false when `owner` no longer holds it. */
  abandon(key: IdempotencyRecordKey, owner: string): Promise<boolean>;
}

/** Injection token of the IdempotencyStore chosen from the driver. */
export const IDEMPOTENCY_STORE = Symbol('IDEMPOTENCY_STORE');
