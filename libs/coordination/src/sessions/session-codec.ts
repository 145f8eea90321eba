import type { Serializer } from '../serialization/serializer.js';
import type { SessionKeys } from './session-keys.js';
import type { SessionFields } from './session-store.interface.js';
import type { Session, SessionSummary } from './session.types.js';
import { checkRecord } from './session-validation.js';

/** Prefix of the hash field of each data field: `d:<name>`. */
export const DATA_PREFIX = 'd:';
/** Fields of a record besides the data fields (see SessionFields). */
export const RECORD_FIELDS = ['u', 'c', 'w', 'm', 't', 'l', 'e', 'x', 'i', 'v'] as const;
/** The store's time and version fields: integers (epoch ms, ms, count). */
export const NUMERIC_FIELDS = ['t', 'l', 'e', 'x', 'i', 'v'] as const;

type Data = Record<string, unknown>;

/** What `create` stores besides the data. */
export interface SessionIdentity {
  readonly userId: string;
  readonly companyId?: string;
  readonly crewId?: string;
  readonly metadata?: Record<string, unknown>;
}

/** A patch as the store applies it. */
export interface EncodedPatch {
  readonly set: SessionFields;
  readonly unset: readonly string[];
}

/**
 * Sessions to and from their stored fields (library-internal). The service's fields: `u` user,
 * `c` company, `w` crew (each absent when not given), `m` metadata (absent when empty) and one
 * `d:<name>` per data field, each value encoded by the module's serializer (Dates, Maps,
 * BigInts... come back as they went in). The store's fields `t l e x i v` become the Dates and
 * version of the Session.
 *
 * @example
 * const codec = new SessionCodec(core.serializer, sessionKeys);
 * const fields = codec.fields({ userId: 'ada' }, { theme: 'dark' }); // { u: 'ada', 'd:theme': '1J"dark"' }
 * const session = codec.session(id, 'acme', await store.read(key, true));
 */
export class SessionCodec {
  constructor(
    private readonly serializer: Serializer,
    private readonly keys: SessionKeys,
  ) {}

  /**
   * The service's fields of a new session; `undefined` data values are left out.
   *
   * @throws InvalidArgumentError for data or metadata that is not a plain object; SerializationError for a value the serializer cannot store
   */
  fields(identity: SessionIdentity, data: unknown): SessionFields {
    const names = checkRecord(data, 'data');
    const fields: SessionFields = { u: identity.userId };
    if (identity.companyId !== undefined) fields.c = identity.companyId;
    if (identity.crewId !== undefined) fields.w = identity.crewId;
    if (identity.metadata !== undefined && checkRecord(identity.metadata, 'options.metadata').length > 0) {
      fields.m = this.serializer.encode(identity.metadata);
    }
    for (const name of names) {
      const value = (data as Data)[name];
      if (value !== undefined) fields[DATA_PREFIX + name] = this.serializer.encode(value);
    }
    return fields;
  }

  /** An `update` patch: each defined value set (encoded), each `undefined` one removed. */
  patch(patch: unknown): EncodedPatch {
    const names = checkRecord(patch, 'patch');
    const set: SessionFields = {};
    const unset: string[] = [];
    for (const name of names) {
      const value = (patch as Data)[name];
      if (value === undefined) unset.push(DATA_PREFIX + name);
      else set[DATA_PREFIX + name] = this.serializer.encode(value);
    }
    return { set, unset };
  }

  /** The Session of `id` (of `tenant`) from its record. */
  session<D extends Data>(id: string, tenant: string, fields: SessionFields): Session<D> {
    return { id, ...this.summary<D>(id, tenant, fields) };
  }

  /** What `listForUser` returns of a session: everything but its id. */
  summary<D extends Data>(id: string, tenant: string, fields: SessionFields): SessionSummary<D> {
    const data: Data = {};
    for (const field in fields) {
      if (!field.startsWith(DATA_PREFIX)) continue;
      const name = field.slice(DATA_PREFIX.length);
      const value = this.serializer.decode(fields[field]);
      // A data field may be called `__proto__`: keep it an own property, as JSON.parse does.
      if (name === '__proto__') Object.defineProperty(data, name, { value, enumerable: true, writable: true, configurable: true });
      else data[name] = value;
    }
    const summary: { -readonly [K in keyof SessionSummary<D>]: SessionSummary<D>[K] } = {
      handle: this.keys.handle(id),
      tenant,
      userId: fields.u,
      data: data as D,
      metadata: fields.m === undefined ? {} : this.serializer.decode<Record<string, unknown>>(fields.m),
      createdAt: new Date(Number(fields.t)),
      lastActivity: new Date(Number(fields.l)),
      expiresAt: new Date(Number(fields.e)),
      absoluteExpiresAt: new Date(Number(fields.x)),
      version: Number(fields.v),
    };
    if (fields.c !== undefined) summary.companyId = fields.c;
    if (fields.w !== undefined) summary.crewId = fields.w;
    return summary;
  }
}
