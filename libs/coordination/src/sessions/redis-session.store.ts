import { storeTtlMs } from '../cache/store-ttl.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { scanMasters } from '../connection/scan-masters.js';
import { futureRecord, restoredTimes } from './dumped-record.js';
import { MAX_RESTORE_AHEAD_MS } from './session-limits.js';
import type {
  CreateSessionCommand, CreateSessionResult, DestroySessionResult, DumpedSession, PrunedIndex, RestoreSessionResult, SessionFields,
  SessionMember, SessionStore, UpdateSessionCommand, UpdateSessionResult, UserSessionKeys,
} from './session-store.interface.js';
import { SESSION_SCRIPTS as S } from './session.scripts.js';

type Reply = Array<string | number | null | Reply>;

/**
 * The session store on Redis: one Lua script per operation that reads or writes time fields or
 * an index (session.scripts.ts), all keys of a script in the user's hash slot; single commands
 * for the rest (GET without a touch, dumps, the flat records, the pruner's lease), through the circuit breaker
 * of the command connection, so an outage fails as RedisUnavailableError naming the operation
 * (`sessions.get`, `sessions.exportSessions`, ...; a script by its script name, see script-operations.ts).
 *
 * A session is ONE Redis string (about half the memory of a hash, and one bulk string to
 * decode per read): a fixed-width header of its time fields and version followed by a JSON
 * object of every other field (lua/include/session-record.lua describes the layout):
 *
 *     1 <l:13> <e:13> <x:13> <t:13> <i:11> <v:10> {"u":"ada","m":"...","d:theme":"..."}
 *
 * `1` is the format, each time field zero-padded decimal digits (epoch ms, ms, a count), with
 * no spaces. The scripts touch a session with one SETRANGE of `l` and `e` in place, and
 * update it by decoding the body (cjson), changing it and writing it back; the client decodes
 * a record in `decodeRecord` only (the header sliced by position, one JSON.parse of the body).
 *
 * One round trip per call: calls over many keys (dump, deleteRecords) send one command per key
 * in one tick, which the auto-pipelined connection sends together (one pipeline per node on a
 * cluster, never a cross-slot command). `scan` is the exception: SCAN batches, one node after
 * another. Time fields come from the server clock (TIME in the scripts); a session's key
 * expires at its idle expiry (`e`, never past `x`), so an expired session is simply gone, and
 * a read without a touch needs no script. A user's index lives until the latest absolute
 * expiry of its sessions plus `indexGraceMs`, so the background pruner still finds (and
 * announces) a session that ended at its absolute expiry.
 *
 * Replies are turned into typed results by the functions at the end of the file and nowhere
 * else. Scripts reply in RESP2 shapes (strings, nil, nested arrays), the same under the RESP3
 * `legacy` mapping the connection uses.
 *
 * @example
 * const store = new RedisSessionStore(core.connection, { indexGraceMs: 120_000 });
 * const created = await store.create({ ...keys.user('acme', 'ada'), member, fields, idleTtlMs, absoluteTtlMs, maxPerUser: 0, onLimit: 'reject' });
 */
export class RedisSessionStore implements SessionStore {
  private readonly indexGraceMs: number;

  /** `indexGraceMs`: how long (ms, an integer >= 0) a user's index outlives the latest absolute expiry of its sessions. */
  constructor(
    private readonly connection: RedisConnection,
    options: { readonly indexGraceMs: number },
  ) {
    this.indexGraceMs = options.indexGraceMs;
  }

  async create(c: CreateSessionCommand): Promise<CreateSessionResult> {
    const args = [c.sessionPrefix, c.member, c.idleTtlMs, c.absoluteTtlMs, c.maxPerUser, c.onLimit, this.indexGraceMs, bodyOf(c.fields)];
    return toCreated(await this.connection.runScript<Reply>(S.create, [c.index, c.sessionPrefix + c.member], args));
  }

  async read(key: string, touch: boolean): Promise<SessionFields | null> {
    if (touch) return toRecord(await this.connection.runScript<string | null>(S.read, [key], []));
    return toRecord(await this.connection.execute('sessions.get', (c) => c.get(key)));
  }

  async update(key: string, c: UpdateSessionCommand): Promise<UpdateSessionResult> {
    const set = pairsOf(c.set);
    const args = [c.ifVersion ?? '', c.touch ? '1' : '0', set.length / 2, ...set, ...c.unset];
    return toUpdated(await this.connection.runScript<Reply>(S.update, [key], args));
  }

  async extend(key: string, idleTtlMs: number): Promise<SessionFields | null> {
    return toRecord(await this.connection.runScript<string | null>(S.extend, [key], [idleTtlMs]));
  }

  async destroy(keys: UserSessionKeys, member: string): Promise<DestroySessionResult> {
    return toDestroyed(await this.connection.runScript<Reply>(S.destroy, [keys.index, keys.sessionPrefix + member], [member]));
  }

  async rename(keys: UserSessionKeys, from: string, to: string): Promise<SessionFields | null> {
    const sessionKeys = [keys.index, keys.sessionPrefix + from, keys.sessionPrefix + to];
    return toRecord(await this.connection.runScript<string | null>(S.rename, sessionKeys, [from, to, this.indexGraceMs]));
  }

  async list(keys: UserSessionKeys): Promise<{ live: SessionMember[]; expired: string[] }> {
    return toListed(await this.connection.runScript<[string[], Array<string | null>, string[]]>(S.list, [keys.index], [keys.sessionPrefix]));
  }

  async destroyAll(keys: UserSessionKeys, except?: string): Promise<{ destroyed: string[]; expired: string[] }> {
    const [destroyed, expired] = await this.connection.runScript<[string[], string[]]>(S.destroyAll, [keys.index], [keys.sessionPrefix, except ?? '']);
    return { destroyed, expired };
  }

  async prune(keys: UserSessionKeys): Promise<PrunedIndex> {
    const [expired, live] = await this.connection.runScript<[string[], number]>(S.prune, [keys.index], [keys.sessionPrefix]);
    return { expired, live };
  }

  /** SCAN MATCH on every master (connection/scan-masters.ts); a key may come twice, as SCAN allows. */
  scan(pattern: string): AsyncIterable<string[]> {
    return scanMasters(this.connection, 'sessions.scan', pattern);
  }

  /** One GET per key in one tick (one pipeline per node). */
  async dump(keys: readonly string[]): Promise<DumpedSession[]> {
    if (keys.length === 0) return [];
    const records = await this.connection.execute('sessions.exportSessions', (c) => Promise.all(keys.map((key) => c.get(key))));
    return toDumped(keys, records);
  }

  /** The script compares versions and writes in one step: a concurrent update is never undone. */
  async restore(keys: UserSessionKeys, member: string, fields: SessionFields): Promise<RestoreSessionResult> {
    const { l, e, x, t, i, v } = restoredTimes(fields);
    const args = [member, l, e, x, t, i, v, this.indexGraceMs, bodyOf(fields), MAX_RESTORE_AHEAD_MS];
    const outcome = await this.connection.runScript<RestoreSessionResult | 'future'>(S.restore, [keys.index, keys.sessionPrefix + member], args);
    if (outcome === 'future') throw futureRecord();
    return outcome;
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

  /** SET NX PX: one command, so of concurrent claims exactly one gets 'OK'. */
  async claimPass(key: string, ttlMs: number): Promise<boolean> {
    const px = storeTtlMs(ttlMs);
    return (await this.connection.execute('sessions.prune', (c) => c.set(key, '1', 'PX', px, 'NX'))) === 'OK';
  }
}

/** A record's fields as `field, value` script arguments. */
function pairsOf(fields: SessionFields): string[] {
  const pairs: string[] = [];
  for (const name of Object.keys(fields)) pairs.push(name, fields[name]);
  return pairs;
}

// The record layout (lua/include/session-record.lua): the format character, then the header
// fields `l e x t i v` at fixed positions (decoded in `decodeRecord`), then the JSON body.
const FORMAT = 0x31; // '1'
const BODY = 74;
const HEADER_FIELDS = new Set(['l', 'e', 'x', 't', 'i', 'v']);

/** The JSON body of a record: every field but the header's, as a JSON object (field -> string). */
function bodyOf(fields: SessionFields): string {
  let body = '';
  for (const name of Object.keys(fields)) {
    if (HEADER_FIELDS.has(name)) continue;
    body += `${body === '' ? '' : ','}${JSON.stringify(name)}:${JSON.stringify(fields[name])}`;
  }
  return `{${body}}`;
}

/**
 * A record's fields from its string: one JSON.parse of the body (which defines own data
 * properties, a field named `__proto__` included: it never becomes a prototype), then each
 * header field sliced by position, its leading zeros dropped (the SessionFields strings).
 */
function decodeRecord(value: string): SessionFields {
  if (value.charCodeAt(0) !== FORMAT) throw new Error(`A session record of an unknown format (${JSON.stringify(value.slice(0, 1))})`);
  const fields = JSON.parse(value.slice(BODY)) as SessionFields;
  fields.l = digits(value, 1, 14);
  fields.e = digits(value, 14, 27);
  fields.x = digits(value, 27, 40);
  fields.t = digits(value, 40, 53);
  fields.i = digits(value, 53, 64);
  fields.v = digits(value, 64, BODY);
  return fields;
}

/** The zero-padded integer at `value[from, to)` without its leading zeros ('0' for zero). */
function digits(value: string, from: number, to: number): string {
  let at = from;
  while (at < to - 1 && value.charCodeAt(at) === 0x30) at++;
  return value.slice(at, to);
}

// The replies read by the store, into typed results (and nowhere else).

/** A record, or null when the session is gone. */
const toRecord = (value: string | null): SessionFields | null => (value === null ? null : decodeRecord(value));

function toCreated(reply: Reply): CreateSessionResult {
  if (reply[0] !== 1) return { created: false, live: Number(reply[1]) };
  return { created: true, fields: decodeRecord(reply[1] as string), evicted: reply[2] as string[], expired: reply[3] as string[] };
}

function toDestroyed(reply: Reply): DestroySessionResult {
  return reply[0] === 1 ? { destroyed: true, fields: decodeRecord(reply[1] as string) } : { destroyed: false, expired: reply[1] === 1 };
}

function toUpdated(reply: Reply): UpdateSessionResult {
  if (reply[0] === 1) return { updated: true, fields: decodeRecord(reply[1] as string) };
  return reply[1] === 'version' ? { updated: false, reason: 'version', version: Number(reply[2]) } : { updated: false, reason: 'missing' };
}

function toListed([members, records, expired]: [string[], Array<string | null>, string[]]): { live: SessionMember[]; expired: string[] } {
  const live: SessionMember[] = [];
  members.forEach((member, n) => {
    const fields = toRecord(records[n]);
    if (fields) live.push({ member, fields });
  });
  return { live, expired };
}

function toDumped(keys: readonly string[], records: ReadonlyArray<string | null>): DumpedSession[] {
  const dumped: DumpedSession[] = [];
  records.forEach((record, n) => {
    const fields = toRecord(record);
    if (fields) dumped.push({ key: keys[n], fields });
  });
  return dumped;
}
