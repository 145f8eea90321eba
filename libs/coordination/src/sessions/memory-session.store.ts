import { ExpiringMap } from '../core/expiring-map.js';
import { storeTtlMs } from '../cache/store-ttl.js';
import type { Clock } from '../core/clock.js';
import { globToRegExp } from '../keys/glob.js';
import { futureRecord, restoredTimes } from './dumped-record.js';
import { MAX_RESTORE_AHEAD_MS } from './session-limits.js';
import type {
  CreateSessionCommand, CreateSessionResult, DestroySessionResult, DumpedSession, PrunedIndex, RestoreSessionResult, SessionFields,
  SessionMember, SessionStore, UpdateSessionCommand, UpdateSessionResult, UserSessionKeys,
} from './session-store.interface.js';

/** One key of the keyspace, as Redis holds it: a session hash, a user index (sorted set) or a flat record. */
type Held =
  | { readonly kind: 'hash'; readonly fields: Map<string, string>; expiresAt: number }
  | { readonly kind: 'zset'; readonly members: Map<string, number>; expiresAt: number }
  | { readonly kind: 'string'; readonly value: string; expiresAt: number };
type Hash = Extract<Held, { kind: 'hash' }>;
type Index = Extract<Held, { kind: 'zset' }>;

/** Keys per batch of `scan`, as the Redis store's SCAN COUNT. */
const SCAN_BATCH = 500;

/**
 * The session store in process memory, on the injected clock, with the contract of
 * `RedisSessionStore` (test/contract/stores/session-store.contract.ts): one keyspace of session
 * hashes, user indexes, flat records and pass leases, each key gone once its expiry (`e` for a
 * session) is reached on the clock; the index keeps members whose session is gone until an operation that
 * reads it prunes and reports them, as on Redis; an index lives until the latest absolute
 * expiry of its sessions plus `indexGraceMs`. Records are copied in and out, so no caller
 * shares state with the store; a field named `__proto__` is a field like any other.
 *
 * A product feature (the memory driver: local development, users' tests, single-process apps),
 * not a test double; state is local to this module instance.
 *
 * @example
 * const store = new MemorySessionStore(new ManualClock(1_700_000_000_000), { indexGraceMs: 120_000 });
 * await store.create({ ...keys.user('acme', 'ada'), member, fields: { u: 'ada' }, idleTtlMs: 60_000, absoluteTtlMs: 600_000, maxPerUser: 0, onLimit: 'reject' });
 */
export class MemorySessionStore implements SessionStore {
  /** The keyspace: expired keys read as absent, dropped when read or swept as writes come in. */
  private readonly held = new ExpiringMap<Held>(() => this.clock.now());

  private readonly indexGraceMs: number;

  /** `indexGraceMs`: how long (ms, an integer >= 0) a user's index outlives the latest absolute expiry of its sessions. */
  constructor(
    private readonly clock: Clock,
    options: { readonly indexGraceMs: number },
  ) {
    this.indexGraceMs = options.indexGraceMs;
  }

  async create(c: CreateSessionCommand): Promise<CreateSessionResult> {
    const now = this.clock.now();
    const { live, expired } = this.members(c);
    if (c.maxPerUser > 0 && live.length >= c.maxPerUser && c.onLimit === 'reject') return { created: false, live: live.length };
    const evicted = c.maxPerUser > 0 ? live.slice(0, Math.max(0, live.length - c.maxPerUser + 1)) : [];
    for (const member of evicted) this.held.delete(c.sessionPrefix + member);
    this.removeMembers(c.index, [...expired, ...evicted]);
    const x = now + c.absoluteTtlMs;
    const e = Math.min(now + c.idleTtlMs, x);
    const fields = new Map(Object.entries(c.fields));
    for (const [name, value] of [['t', now], ['l', now], ['e', e], ['x', x], ['i', c.idleTtlMs], ['v', 1]] as const) fields.set(name, String(value));
    this.write(c.sessionPrefix + c.member, { kind: 'hash', fields, expiresAt: e });
    this.addMember(c.index, c.member, now, x);
    return { created: true, fields: recordOf(fields), evicted, expired };
  }

  async read(key: string, touch: boolean): Promise<SessionFields | null> {
    const record = this.record(key);
    if (!record) return null;
    if (touch) this.touch(record, Number(record.fields.get('i')));
    return recordOf(record.fields);
  }

  async update(key: string, c: UpdateSessionCommand): Promise<UpdateSessionResult> {
    const record = this.record(key);
    if (!record) return { updated: false, reason: 'missing' };
    const version = Number(record.fields.get('v'));
    if (c.ifVersion !== undefined && version !== c.ifVersion) return { updated: false, reason: 'version', version };
    for (const [name, value] of Object.entries(c.set)) record.fields.set(name, value);
    for (const name of c.unset) record.fields.delete(name);
    record.fields.set('v', String(version + 1));
    if (c.touch) this.touch(record, Number(record.fields.get('i')));
    return { updated: true, fields: recordOf(record.fields) };
  }

  async extend(key: string, idleTtlMs: number): Promise<SessionFields | null> {
    const record = this.record(key);
    if (!record) return null;
    record.fields.set('i', String(idleTtlMs));
    this.touch(record, idleTtlMs);
    return recordOf(record.fields);
  }

  async destroy(keys: UserSessionKeys, member: string): Promise<DestroySessionResult> {
    const key = keys.sessionPrefix + member;
    const record = this.hash(key);
    const indexed = this.index(keys.index)?.members.has(member) ?? false;
    this.held.delete(key);
    this.removeMembers(keys.index, [member]);
    return record ? { destroyed: true, fields: recordOf(record.fields) } : { destroyed: false, expired: indexed };
  }

  async rename(keys: UserSessionKeys, from: string, to: string): Promise<SessionFields | null> {
    const record = this.record(keys.sessionPrefix + from);
    if (!record) return null;
    const score = this.index(keys.index)?.members.get(from) ?? Number(record.fields.get('t'));
    this.held.delete(keys.sessionPrefix + from);
    this.touch(record, Number(record.fields.get('i')));
    this.write(keys.sessionPrefix + to, record);
    this.removeMembers(keys.index, [from]);
    this.addMember(keys.index, to, score, Number(record.fields.get('x')));
    return recordOf(record.fields);
  }

  async list(keys: UserSessionKeys): Promise<{ live: SessionMember[]; expired: string[] }> {
    const { live, expired } = this.pruned(keys);
    return { live: live.map((member) => ({ member, fields: recordOf(this.hash(keys.sessionPrefix + member)!.fields) })), expired };
  }

  async destroyAll(keys: UserSessionKeys, except?: string): Promise<{ destroyed: string[]; expired: string[] }> {
    const { live, expired } = this.pruned(keys);
    const destroyed = live.filter((member) => member !== except);
    for (const member of destroyed) this.held.delete(keys.sessionPrefix + member);
    this.removeMembers(keys.index, destroyed);
    return { destroyed, expired };
  }

  async prune(keys: UserSessionKeys): Promise<PrunedIndex> {
    const { live, expired } = this.pruned(keys);
    return { expired, live: live.length };
  }

  /** The live keys matching the SCAN glob, in batches; keys written or deleted meanwhile may or may not be seen. */
  async *scan(pattern: string): AsyncIterable<string[]> {
    const matches = globToRegExp(pattern);
    let batch: string[] = [];
    for (const key of this.held.keys()) {
      if (!matches.test(key) || !this.live(key)) continue;
      batch.push(key);
      if (batch.length === SCAN_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  async dump(keys: readonly string[]): Promise<DumpedSession[]> {
    const dumped: DumpedSession[] = [];
    for (const key of keys) {
      const record = this.hash(key);
      if (record) dumped.push({ key, fields: recordOf(record.fields) });
    }
    return dumped;
  }

  async restore(keys: UserSessionKeys, member: string, fields: SessionFields): Promise<RestoreSessionResult> {
    const { l, e, x, t, v } = restoredTimes(fields);
    const now = this.clock.now();
    if (t > now + MAX_RESTORE_AHEAD_MS) throw futureRecord();
    if (e <= now || x <= now) return 'expired';
    const stored = this.record(keys.sessionPrefix + member);
    if (stored) {
      // At least as new: a higher version, or the same one with activity not older (restore.lua).
      const [storedV, storedL] = [Number(stored.fields.get('v')), Number(stored.fields.get('l'))];
      if (storedV > v || (storedV === v && storedL >= l)) return 'kept';
    }
    this.write(keys.sessionPrefix + member, { kind: 'hash', fields: new Map(Object.entries(fields)), expiresAt: Math.min(e, x) });
    this.addMember(keys.index, member, t, x);
    return 'restored';
  }

  async getRecord(key: string): Promise<string | null> {
    const held = this.live(key);
    return held ? ofKind(key, held, 'string').value : null;
  }

  async putRecord(key: string, value: string, ttlMs: number): Promise<void> {
    const px = storeTtlMs(ttlMs);
    this.write(key, { kind: 'string', value, expiresAt: this.clock.now() + px });
  }

  async touchRecord(key: string, ttlMs: number): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    const held = this.live(key);
    if (held) held.expiresAt = this.clock.now() + px;
    return held !== undefined;
  }

  async deleteRecords(keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const key of keys) if (this.live(key) && this.held.delete(key)) deleted++;
    return deleted;
  }

  async claimPass(key: string, ttlMs: number): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    if (this.live(key)) return false;
    this.write(key, { kind: 'string', value: '1', expiresAt: this.clock.now() + px });
    return true;
  }

  /** The index's members oldest first (ties by member, as ZRANGE), split by whether their session is still there. */
  private members(keys: UserSessionKeys): { live: string[]; expired: string[] } {
    const index = this.index(keys.index);
    const live: string[] = [];
    const expired: string[] = [];
    if (!index) return { live, expired };
    const ordered = [...index.members].sort(([a, sa], [b, sb]) => sa - sb || (a < b ? -1 : a > b ? 1 : 0));
    for (const [member] of ordered) (this.live(keys.sessionPrefix + member) ? live : expired).push(member);
    return { live, expired };
  }

  /** `members`, the expired ones removed from the index. */
  private pruned(keys: UserSessionKeys): { live: string[]; expired: string[] } {
    const split = this.members(keys);
    this.removeMembers(keys.index, split.expired);
    return split;
  }

  /** Adds `member` to its index, which then lives at least until `x` (the session's absolute expiry) + the grace. */
  private addMember(indexKey: string, member: string, score: number, x: number): void {
    let index = this.index(indexKey);
    if (!index) this.write(indexKey, (index = { kind: 'zset', members: new Map(), expiresAt: Infinity }));
    index.members.set(member, score);
    // As on Redis: the index lives until the latest absolute expiry of its sessions plus the grace, never shortened.
    const keepUntil = x + this.indexGraceMs;
    if (index.expiresAt === Infinity || index.expiresAt < keepUntil) index.expiresAt = keepUntil;
  }

  /** ZREM: an index left empty is gone, as Redis deletes an empty sorted set. */
  private removeMembers(indexKey: string, members: readonly string[]): void {
    const index = this.index(indexKey);
    if (!index) return;
    for (const member of members) index.members.delete(member);
    if (index.members.size === 0) this.held.delete(indexKey);
  }

  /** Records activity: l = now, e = now + idleMs but at most x; the key expires at e. */
  private touch(record: Hash, idleMs: number): void {
    const now = this.clock.now();
    const e = Math.min(now + idleMs, Number(record.fields.get('x')));
    record.fields.set('l', String(now));
    record.fields.set('e', String(e));
    record.expiresAt = e;
  }

  /** A live session record, never one past its absolute expiry. */
  private record(key: string): Hash | undefined {
    const record = this.hash(key);
    return record && Number(record.fields.get('x')) > this.clock.now() ? record : undefined;
  }

  private hash(key: string): Hash | undefined {
    const held = this.live(key);
    return held && ofKind(key, held, 'hash');
  }

  private index(key: string): Index | undefined {
    const held = this.live(key);
    return held && ofKind(key, held, 'zset');
  }

  /** The key unless it expired (then it is dropped). */
  private live(key: string): Held | undefined {
    return this.held.live(key);
  }

  private write(key: string, value: Held): void {
    this.held.write(key, value);
  }

}

/** The key's value if it holds `kind`; otherwise Redis's WRONGTYPE error. */
function ofKind<K extends Held['kind']>(key: string, held: Held, kind: K): Extract<Held, { kind: K }> {
  if (held.kind !== kind) throw new Error(`WRONGTYPE ${key} holds a ${held.kind}, not a ${kind}`);
  return held as Extract<Held, { kind: K }>;
}

/** A copy of a record's fields (fromEntries defines own properties: `__proto__` stays a field). */
const recordOf = (fields: ReadonlyMap<string, string>): SessionFields => Object.fromEntries(fields) as SessionFields;
