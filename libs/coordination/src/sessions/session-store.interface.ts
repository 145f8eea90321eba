/** Injection token of the {@link SessionStore} of one module instance. */
export const SESSION_STORE = Symbol('SESSION_STORE');

/**
 * A session record, field → string (RedisSessionStore keeps it as one string: a fixed-width
 * header of the time fields and a JSON object of the others). The store owns the time
 * fields, set from the server clock (the injected clock in memory):
 * - `t` created at, `l` last activity, `e` idle expiry, `x` absolute expiry (epoch ms),
 *   `i` idle lifetime (ms), `v` version (incremented by `update`);
 * - the service owns `u` user id, `c` company id, `w` crew id, `m` metadata, and one
 *   `d:<name>` field per data field (each encoded by the serializer), which the store copies
 *   as they are.
 */
export type SessionFields = Record<string, string>;

/** Where one user's sessions live: all in one hash slot (see SessionKeys). */
export interface UserSessionKeys {
  /** The user's index: a sorted set of session members scored by creation time. */
  readonly index: string;
  /** Session key = `sessionPrefix + member`. */
  readonly sessionPrefix: string;
}

/** `create`: the new record and the per-user limit. */
export interface CreateSessionCommand extends UserSessionKeys {
  /** The new session's member in the index (its key is `sessionPrefix + member`). */
  readonly member: string;
  /** The service's fields (`u`, `c`, `w`, `m`, `d:*`); the store adds the time fields and `v` = 1. */
  readonly fields: SessionFields;
  readonly idleTtlMs: number;
  readonly absoluteTtlMs: number;
  /** Most live sessions of the user; 0 = no limit. */
  readonly maxPerUser: number;
  /** At the limit: refuse the new session, or end the oldest ones (by creation) to make room. */
  readonly onLimit: 'reject' | 'evict-oldest';
}

export type CreateSessionResult =
  | { readonly created: true; readonly fields: SessionFields; readonly evicted: readonly string[]; readonly expired: readonly string[] }
  | { readonly created: false; readonly live: number };

/** `update`: fields to set and remove, atomically, and whether the update counts as activity. */
export interface UpdateSessionCommand {
  readonly set: SessionFields;
  readonly unset: readonly string[];
  /** Compare-and-set on `v`. */
  readonly ifVersion?: number;
  /** Restart the idle lifetime (sliding). */
  readonly touch: boolean;
}

export type UpdateSessionResult =
  | { readonly updated: true; readonly fields: SessionFields }
  | { readonly updated: false; readonly reason: 'missing' }
  | { readonly updated: false; readonly reason: 'version'; readonly version: number };

/**
 * `destroy`: the record it deleted; or, when the record was gone, whether the index still named
 * the session (so it expired and nobody announced it yet: the caller reports it as expired).
 */
export type DestroySessionResult =
  | { readonly destroyed: true; readonly fields: SessionFields }
  | { readonly destroyed: false; readonly expired: boolean };

/**
 * `restore`: `restored` (the dumped record written), `kept` (a live stored record at least as
 * new as the dumped one left as it is: a higher version, or the same with a last activity `l`
 * not older; the session was used, extended or restored since the export) or `expired` (the
 * dumped record's idle or absolute expiry has passed: nothing written).
 */
export type RestoreSessionResult = 'restored' | 'kept' | 'expired';

/** `prune`: the members it removed as expired, and how many live members the index still has. */
export interface PrunedIndex {
  readonly expired: string[];
  readonly live: number;
}

/** A live session of a user and its record. */
export interface SessionMember {
  readonly member: string;
  readonly fields: SessionFields;
}

/** One record of an export: the key, its fields and its idle expiry (epoch ms, absolute time). */
export interface DumpedSession {
  readonly key: string;
  readonly fields: SessionFields;
}

/**
 * The atomic primitives of sessions. Keys are full keys from SessionKeys: a session
 * (`<prefix>:<tenant>:session:{<slot tag>}:<random>`) and its user's index
 * (`<prefix>:<tenant>:session-user:{<slot tag>}:<user>`) share one hash tag, so every
 * operation that touches both is one Lua script: one round trip, all or nothing, on a
 * cluster too. A session's Redis TTL is its idle expiry (`e`), never past its absolute
 * expiry (`x`); the index's TTL is the latest absolute expiry of its sessions plus a grace
 * (`indexGraceMs`), so that a session ended at its absolute expiry is still pruned and announced. The index
 * may name sessions that expired since (Redis drops a key silently): every operation that
 * reads the index removes those and reports them as `expired`, so the service can announce
 * them; nothing the store returns is ever an expired session.
 *
 * `RedisSessionStore` keeps the data in Redis, `MemorySessionStore` in process on the
 * injected clock, with the same contract (test/contract/stores/session-store.contract.ts).
 *
 * @example
 * const result = await store.create({ index, sessionPrefix, member, fields, idleTtlMs: 86_400_000, absoluteTtlMs: 604_800_000, maxPerUser: 0, onLimit: 'reject' });
 * const fields = await store.read(sessionPrefix + member, true);
 */
export interface SessionStore {
  /** Writes a new session and adds it to its user's index, after pruning expired members and applying the limit. */
  create(command: CreateSessionCommand): Promise<CreateSessionResult>;
  /**
   * The record of `key`, or null. With `touch`, restarts its idle lifetime (`e` = now + `i`,
   * at most `x`), records the activity (`l`) and returns the record as updated: one round trip.
   */
  read(key: string, touch: boolean): Promise<SessionFields | null>;
  /** Sets and removes fields in one step (`v` + 1), unless the session is gone or at another version. */
  update(key: string, command: UpdateSessionCommand): Promise<UpdateSessionResult>;
  /**
   * Makes `idleTtlMs` the session's idle lifetime (`i`): sets the idle expiry to now +
   * `idleTtlMs` (at most `x`) and records the activity, and later touches (sliding reads,
   * updates, renames) restart it for that long. Null when the session is gone.
   */
  extend(key: string, idleTtlMs: number): Promise<SessionFields | null>;
  /**
   * Deletes the session and removes it from its index; returns its record. When the record was
   * gone, `expired` tells whether the index still named it: the member is removed, so it is
   * reported here once and by no later read of the index or prune.
   */
  destroy(keys: UserSessionKeys, member: string): Promise<DestroySessionResult>;
  /**
   * Moves a session to a new member atomically: same record and lifetimes, the activity recorded
   * and the idle lifetime restarted as by a touching `read` (`e` = now + `i`, at most `x`), the
   * old key deleted, the index updated. Null when the old one was gone (nothing written).
   */
  rename(keys: UserSessionKeys, from: string, to: string): Promise<SessionFields | null>;
  /** The user's live sessions, oldest first, and the members pruned as expired. */
  list(keys: UserSessionKeys): Promise<{ live: SessionMember[]; expired: string[] }>;
  /** Deletes every session of the user but `except`; returns the members deleted and those pruned as expired. */
  destroyAll(keys: UserSessionKeys, except?: string): Promise<{ destroyed: string[]; expired: string[] }>;
  /** Removes expired members from one index; returns them and how many live sessions the index names. */
  prune(keys: UserSessionKeys): Promise<PrunedIndex>;
  /** Keys matching `pattern` (a SCAN MATCH pattern from SessionKeys), on every master; streamed in batches. */
  scan(pattern: string): AsyncIterable<string[]>;
  /** The records of `keys` (missing ones left out), for an export. */
  dump(keys: readonly string[]): Promise<DumpedSession[]>;
  /**
   * Writes a dumped record back under `sessionPrefix + member` with its own expiries (`e`, `x`),
   * and adds it to the index, unless a live record at least as new is stored there (a higher
   * version `v`, or the same `v` with a last activity `l` not older): idempotent, and an import
   * into a live system never undoes an update, a use or an extend made since the export
   * (`kept`: nothing written). `expired` (nothing written) when the dumped idle or absolute
   * expiry has passed. A session deleted since the export is absent, so it is restored.
   *
   * @throws InvalidArgumentError naming `fields`, before writing anything, for time fields that
   * are not integers fitting the record (dumped-record.ts) or a creation `t` more than
   * MAX_RESTORE_AHEAD_MS after the store's clock (server time on Redis)
   */
  restore(keys: UserSessionKeys, member: string, fields: SessionFields): Promise<RestoreSessionResult>;

  // Flat records under an id the caller chose (SessionRecords: the express-session store):
  // one string value per key with a TTL, no index.
  /** The value of a record, or null. */
  getRecord(key: string): Promise<string | null>;
  /** Writes a record with a lifetime of `ttlMs` (> 0), replacing any. */
  putRecord(key: string, value: string, ttlMs: number): Promise<void>;
  /** Restarts a record's lifetime; false when it is gone. */
  touchRecord(key: string, ttlMs: number): Promise<boolean>;
  /** Deletes the records that exist; returns how many did. */
  deleteRecords(keys: readonly string[]): Promise<number>;

  /**
   * Claims the lease `key` for `ttlMs` (> 0) unless it is held (SET NX PX): true for the one
   * caller that got it, false while it lasts. The background pruner's turn: one instance of a
   * fleet on one key prefix runs each pass. Never released: it lapses.
   */
  claimPass(key: string, ttlMs: number): Promise<boolean>;
}
