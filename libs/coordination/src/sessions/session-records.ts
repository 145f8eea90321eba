import { Inject, Injectable } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidKeyError } from '../errors/coordination.error.js';
import { MAX_ID_LENGTH, encodeId, kindOf } from '../keys/key-builder.js';
import { SESSION_STORE, type SessionStore } from './session-store.interface.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from './session.options.js';
import { checkOptions, checkTtl } from './session-validation.js';

/** Key segment of flat records: `<prefix>:<tenant>:session-record:{<sid>}`. */
const RECORD = 'session-record';

/**
 * Options every SessionRecords method takes.
 *
 * @example
 * await records.count({ tenant: 'acme' });
 */
export interface SessionRecordCallOptions {
  /** The tenant; defaults to the tenant context (outside one: the shared namespace, unless `tenancy.required`). */
  tenant?: string;
}

/**
 * Options of `SessionRecords.set` and `touch`.
 *
 * @example
 * await records.touch(sid, { tenant: 'acme', ttlMs: 1_800_000 });
 */
export interface SessionRecordWriteOptions extends SessionRecordCallOptions {
  /** Lifetime from now, in ms (an integer from 1 to 365 days). Default `sessions.ttlMs`. */
  ttlMs?: number;
}

/**
 * Flat session records under an id the caller chose (express-session's `sid`): one value per
 * record, encoded by the module's serializer (Dates, Maps, ... come back as they went in), with
 * a lifetime and no user index. The storage under CoordinationSessionStore, for applications
 * that keep their express-session code; SessionService is the richer model (per-user index,
 * revoke-all, field-wise updates). Keys are tenant-scoped,
 * `<prefix>:<tenant>:session-record:{<sid>}`: a record of one tenant is never read, counted or
 * cleared through another. A `sid` is 1 to MAX_ID_LENGTH characters, none of which a key would
 * have to encode (`:`, `%`, glob and hash-tag characters, spaces, control characters): what
 * express-session's default ids (base64url) and UUIDs are made of.
 *
 * `count` and `clear` SCAN the tenant's records on every master (O(keys), as the cache's `clear`).
 * Redis unreachable: every method throws RedisUnavailableError.
 *
 * @example
 * const records = app.get(SessionRecords);
 * await records.set('k7Gq…', { cart: ['sku-1'] }, { tenant: 'acme', ttlMs: 3_600_000 });
 * await records.get<{ cart: string[] }>('k7Gq…', { tenant: 'acme' }); // { cart: ['sku-1'] }
 */
@Injectable()
export class SessionRecords {
  constructor(
    private readonly core: CoordinationCore,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionOptions,
  ) {}

  /** `sessions.ttlMs`: the lifetime of a record written without one. */
  get defaultTtlMs(): number {
    return this.options.ttlMs;
  }

  /** The value of record `sid`, or undefined when there is none (never written, expired, deleted). */
  async get<T = unknown>(sid: string, options?: SessionRecordCallOptions): Promise<T | undefined> {
    const text = await this.store.getRecord(this.keyOf(sid, options, 'get'));
    return text === null ? undefined : this.core.serializer.decode<T>(text);
  }

  /** Writes record `sid` (replacing any) to live `ttlMs`. */
  async set(sid: string, value: unknown, options?: SessionRecordWriteOptions): Promise<void> {
    const key = this.keyOf(sid, options, 'set');
    const ttlMs = checkTtl(options?.ttlMs, 'options.ttlMs', this.options.ttlMs);
    await this.store.putRecord(key, this.core.serializer.encode(value), ttlMs);
  }

  /** Restarts the lifetime of record `sid` (`ttlMs` from now); false when it is gone. */
  async touch(sid: string, options?: SessionRecordWriteOptions): Promise<boolean> {
    const key = this.keyOf(sid, options, 'touch');
    return this.store.touchRecord(key, checkTtl(options?.ttlMs, 'options.ttlMs', this.options.ttlMs));
  }

  /** Deletes the records named; returns how many existed. */
  async delete(sids: string | readonly string[], options?: SessionRecordCallOptions): Promise<number> {
    const list = typeof sids === 'string' ? [sids] : sids;
    if (!Array.isArray(list)) throw new InvalidKeyError('sids', `must be a string or an array of strings, got ${kindOf(sids)}`);
    const keys = list.map((sid, i) => this.keyOf(sid, options, 'delete', typeof sids === 'string' ? 'sid' : `sids[${i}]`));
    return keys.length === 0 ? 0 : this.store.deleteRecords(keys);
  }

  /**
   * The ids of the tenant's records, in SCAN batches: a record written or deleted meanwhile may
   * or may not appear, and SCAN may return one twice.
   */
  async *ids(options?: SessionRecordCallOptions): AsyncIterable<string[]> {
    const tenant = this.tenantOf(options, 'ids');
    const namespace = this.core.keys.namespace(tenant, RECORD);
    for await (const keys of this.store.scan(this.core.keys.pattern(tenant, RECORD))) {
      // The tag of a key is its sid as it is (see keyOf); anything else under the pattern is not ours.
      const sids = keys.filter((key) => key.startsWith(`${namespace}{`) && key.endsWith('}')).map((key) => key.slice(namespace.length + 1, -1));
      if (sids.length > 0) yield sids;
    }
  }

  /** The tenant's records and their values, in batches (records that expire meanwhile are left out). */
  async *entries<T = unknown>(options?: SessionRecordCallOptions): AsyncIterable<Array<[sid: string, value: T]>> {
    const tenant = this.tenantOf(options, 'entries');
    for await (const sids of this.ids({ tenant })) {
      const values = await Promise.all(sids.map((sid) => this.get<T>(sid, { tenant })));
      const found = sids.flatMap((sid, i): Array<[string, T]> => (values[i] === undefined ? [] : [[sid, values[i] as T]]));
      if (found.length > 0) yield found;
    }
  }

  /** How many records the tenant has (SCAN may return a key twice while Redis resizes its table: then it counts twice). */
  async count(options?: SessionRecordCallOptions): Promise<number> {
    let count = 0;
    for await (const sids of this.ids({ tenant: this.tenantOf(options, 'count') })) count += sids.length;
    return count;
  }

  /** Deletes every record of the tenant; returns how many there were. */
  async clear(options?: SessionRecordCallOptions): Promise<number> {
    const tenant = this.tenantOf(options, 'clear');
    let deleted = 0;
    for await (const sids of this.ids({ tenant })) deleted += await this.delete(sids, { tenant });
    return deleted;
  }

  /** The key of record `sid`: its tag is `sid` itself, which must need no encoding. */
  private keyOf(sid: unknown, options: SessionRecordCallOptions | undefined, method: string, argument = 'sid'): string {
    const tenant = this.tenantOf(options, method);
    if (typeof sid !== 'string') throw new InvalidKeyError(argument, `must be a string, got ${typeof sid}`);
    if (sid.length === 0 || sid.length > MAX_ID_LENGTH) throw new InvalidKeyError(argument, `must be 1 to ${MAX_ID_LENGTH} characters`);
    if (encodeId(sid) !== sid) {
      throw new InvalidKeyError(argument, 'must hold no ":", "%", glob or hash-tag character (* ? [ ] \\ { }), space or control character');
    }
    return this.core.keys.key(tenant, RECORD, sid);
  }

  private tenantOf(options: SessionRecordCallOptions | undefined, method: string): string {
    checkOptions(options);
    return this.core.tenants.resolve(options?.tenant, `sessionRecords.${method}`);
  }
}
