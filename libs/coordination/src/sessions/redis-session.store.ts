import { storeTtlMs } from '../cache/store-ttl.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { scanMasters } from '../connection/scan-masters.js';
import { restoredTimes } from './dumped-record.js';
import type {
  CreateSessionCommand, CreateSessionResult, DumpedSession, SessionFields, SessionMember, SessionStore, UpdateSessionCommand,
  UpdateSessionResult, UserSessionKeys,
} from './session-store.interface.js';
import { SESSION_SCRIPTS as S } from './session.scripts.js';

type Reply = Array<string | number | null | Reply>;

/**
 * The session store on Redis: one Lua script per operation that reads or writes time fields or
 * an index (session.scripts.ts), all keys of a script in the user's hash slot; single commands
 * for the rest (HGETALL without a touch, dumps, the flat records), through the circuit breaker
 * of the command connection, so an outage fails as RedisUnavailableError naming the operation
 * (`sessions.get`, `sessions.exportSessions`, ...; a script by its script name, see script-operations.ts).
 *
 * One round trip per call: calls over many keys (dump, deleteRecords) send one command per key
 * in one tick, which the auto-pipelined connection sends together (one pipeline per node on a
 * cluster, never a cross-slot command). `scan` is the exception: SCAN batches, one node after
 * another. Time fields come from the server clock (TIME in the scripts); a session's key
 * expires at its idle expiry (PEXPIREAT `e`, never past `x`), so an expired session is simply
 * gone, and a read without a touch needs no script.
 *
 * Replies are turned into typed results by the functions at the end of the file and nowhere
 * else. Scripts reply in RESP2 shapes (flat HGETALL arrays, nested arrays), the same under the
 * RESP3 `legacy` mapping the connection uses.
 *
 * @example
 * const store = new RedisSessionStore(core.connection);
 * const created = await store.create({ ...keys.user('acme', 'ada'), member, fields, idleTtlMs, absoluteTtlMs, maxPerUser: 0, onLimit: 'reject' });
 */
export class RedisSessionStore implements SessionStore {
  constructor(private readonly connection: RedisConnection) {}

  async create(c: CreateSessionCommand): Promise<CreateSessionResult> {
    const args = [c.sessionPrefix, c.member, c.idleTtlMs, c.absoluteTtlMs, c.maxPerUser, c.onLimit, ...pairsOf(c.fields)];
    return toCreated(await this.connection.runScript<Reply>(S.create, [c.index, c.sessionPrefix + c.member], args));
  }

  async read(key: string, touch: boolean): Promise<SessionFields | null> {
    if (touch) return toRecord(await this.connection.runScript<string[]>(S.read, [key], []));
    return toRecordObject(await this.connection.execute('sessions.get', (c) => c.hgetall(key)));
  }

  async update(key: string, c: UpdateSessionCommand): Promise<UpdateSessionResult> {
    const set = pairsOf(c.set);
    const args = [c.ifVersion ?? '', c.touch ? '1' : '0', set.length / 2, ...set, ...c.unset];
    return toUpdated(await this.connection.runScript<Reply>(S.update, [key], args));
  }

  async extend(key: string, idleTtlMs: number): Promise<SessionFields | null> {
    return toRecord(await this.connection.runScript<string[]>(S.extend, [key], [idleTtlMs]));
  }

  async destroy(keys: UserSessionKeys, member: string): Promise<SessionFields | null> {
    return toRecord(await this.connection.runScript<string[]>(S.destroy, [keys.index, keys.sessionPrefix + member], [member]));
  }

  async rename(keys: UserSessionKeys, from: string, to: string): Promise<SessionFields | null> {
    const sessionKeys = [keys.index, keys.sessionPrefix + from, keys.sessionPrefix + to];
    return toRecord(await this.connection.runScript<string[]>(S.rename, sessionKeys, [from, to]));
  }

  async list(keys: UserSessionKeys): Promise<{ live: SessionMember[]; expired: string[] }> {
    return toListed(await this.connection.runScript<[string[], string[][], string[]]>(S.list, [keys.index], [keys.sessionPrefix]));
  }

  async destroyAll(keys: UserSessionKeys, except?: string): Promise<{ destroyed: string[]; expired: string[] }> {
    const [destroyed, expired] = await this.connection.runScript<[string[], string[]]>(S.destroyAll, [keys.index], [keys.sessionPrefix, except ?? '']);
    return { destroyed, expired };
  }

  prune(keys: UserSessionKeys): Promise<string[]> {
    return this.connection.runScript<string[]>(S.prune, [keys.index], [keys.sessionPrefix]);
  }

  /** SCAN MATCH on every master (connection/scan-masters.ts); a key may come twice, as SCAN allows. */
  scan(pattern: string): AsyncIterable<string[]> {
    return scanMasters(this.connection, 'sessions.scan', pattern);
  }

  /** One HGETALL per key in one tick (one pipeline per node). */
  async dump(keys: readonly string[]): Promise<DumpedSession[]> {
    if (keys.length === 0) return [];
    const records = await this.connection.execute('sessions.exportSessions', (c) => Promise.all(keys.map((key) => c.hgetall(key))));
    return toDumped(keys, records);
  }

  async restore(keys: UserSessionKeys, member: string, fields: SessionFields): Promise<boolean> {
    const { e, x, t } = restoredTimes(fields);
    const args = [member, e, x, t, ...pairsOf(fields)];
    return (await this.connection.runScript<number>(S.restore, [keys.index, keys.sessionPrefix + member], args)) === 1;
  }

  getRecord(key: string): Promise<string | null> {
    return this.connection.execute('sessions.getRecord', (c) => c.get(key));
  }

  async putRecord(key: string, value: string, ttlMs: number): Promise<void> {
    const px = storeTtlMs(ttlMs);
    await this.connection.execute('sessions.putRecord', (c) => c.set(key, value, 'PX', px));
  }

  async touchRecord(key: string, ttlMs: number): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    return (await this.connection.execute('sessions.touchRecord', (c) => c.pexpire(key, px))) === 1;
  }

  /** One DEL per key in one tick: the keys of express-session ids span slots on a cluster. */
  async deleteRecords(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const deleted = await this.connection.execute('sessions.deleteRecords', (c) => Promise.all(keys.map((key) => c.del(key))));
    return deleted.reduce((total, n) => total + n, 0);
  }
}

/** A record's fields as `field, value` script arguments. */
function pairsOf(fields: SessionFields): string[] {
  const pairs: string[] = [];
  for (const name of Object.keys(fields)) pairs.push(name, fields[name]);
  return pairs;
}

// The replies read by the store, into typed results (and nowhere else).

/** A flat HGETALL array from a script; null when empty (the session is gone). */
function toRecord(flat: readonly string[]): SessionFields | null {
  if (flat.length === 0) return null;
  const entries: Array<[string, string]> = [];
  for (let at = 0; at < flat.length; at += 2) entries.push([flat[at], flat[at + 1]]);
  // fromEntries defines own properties: a field named `__proto__` stays a field.
  return Object.fromEntries(entries) as SessionFields;
}

/** ioredis's HGETALL object; null when empty (the session is gone). */
const toRecordObject = (record: Record<string, string>): SessionFields | null => (Object.keys(record).length === 0 ? null : record);

function toCreated(reply: Reply): CreateSessionResult {
  if (reply[0] !== 1) return { created: false, live: Number(reply[1]) };
  return { created: true, fields: toRecord(reply[1] as string[])!, evicted: reply[2] as string[], expired: reply[3] as string[] };
}

function toUpdated(reply: Reply): UpdateSessionResult {
  if (reply[0] === 1) return { updated: true, fields: toRecord(reply[1] as string[])! };
  return reply[1] === 'version' ? { updated: false, reason: 'version', version: Number(reply[2]) } : { updated: false, reason: 'missing' };
}

function toListed([members, records, expired]: [string[], string[][], string[]]): { live: SessionMember[]; expired: string[] } {
  const live: SessionMember[] = [];
  members.forEach((member, n) => {
    const fields = toRecord(records[n]);
    if (fields) live.push({ member, fields });
  });
  return { live, expired };
}

function toDumped(keys: readonly string[], records: ReadonlyArray<Record<string, string>>): DumpedSession[] {
  const dumped: DumpedSession[] = [];
  records.forEach((record, n) => {
    const fields = toRecordObject(record);
    if (fields) dumped.push({ key: keys[n], fields });
  });
  return dumped;
}
