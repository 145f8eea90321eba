import { DeserializationError } from '../serialization/serialization.errors.js';
import type { Serializer } from '../serialization/serializer.js';
import type { SessionKeys } from './session-keys.js';
import type { SessionFields } from './session-store.interface.js';
import type { Session, SessionSummary } from './session.types.js';
import { checkRecord } from './session-validation.js';

/** Prefix of the hash field of each data field: `d:<name>`. */
export const DATA_PREFIX = 'd:';
/** Fields of a record besides the data fields (see SessionFields). */
export const RECORD_FIELDS = ['u', 'c', 'w', 'm', 't', 'l', 'e', 'x', 'i', 'v'] as const;

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

  /**
   * The Session of `id` (of `tenant`) from its record. Its `handle` (a SHA-256 of the id) is
   * computed when first read, then kept: an enumerable property like the others.
   *
   * @throws DeserializationError whose `path` names the field (`m`, `d:<name>`) the serializer cannot decode
   */
  session<D extends Data>(id: string, tenant: string, fields: SessionFields): Session<D> {
    return this.build<D>({ id }, id, tenant, fields) as Session<D>;
  }

  /** What `listForUser` returns of a session: everything but its id. @throws DeserializationError as `session` */
  summary<D extends Data>(id: string, tenant: string, fields: SessionFields): SessionSummary<D> {
    return this.build<D>({}, id, tenant, fields);
  }

  /**
   * Checks that the serializer decodes the metadata (to an object) and every data field of a
   * record, e.g. one about to be imported.
   *
   * @throws DeserializationError whose `path` names the first field that does not decode
   */
  check(fields: SessionFields): void {
    if (fields.m !== undefined) this.metadata(fields);
    for (const field in fields) if (field.startsWith(DATA_PREFIX)) this.decode(fields, field);
  }

  private build<D extends Data>(session: Record<string, unknown>, id: string, tenant: string, fields: SessionFields): SessionSummary<D> {
    const data: Data = {};
    for (const field in fields) {
      if (!field.startsWith(DATA_PREFIX)) continue;
      const name = field.slice(DATA_PREFIX.length);
      const value = this.decode(fields, field);
      // A data field may be called `__proto__`: keep it an own property, as JSON.parse does.
      if (name === '__proto__') Object.defineProperty(data, name, { value, enumerable: true, writable: true, configurable: true });
      else data[name] = value;
    }
    const metadata = fields.m === undefined ? {} : this.metadata(fields);
    lazyHandle(session, () => this.keys.handle(id));
    session.tenant = tenant;
    session.userId = fields.u;
    session.data = data;
    session.metadata = metadata;
    session.createdAt = new Date(Number(fields.t));
    session.lastActivity = new Date(Number(fields.l));
    session.expiresAt = new Date(Number(fields.e));
    session.absoluteExpiresAt = new Date(Number(fields.x));
    session.version = Number(fields.v);
    if (fields.c !== undefined) session.companyId = fields.c;
    if (fields.w !== undefined) session.crewId = fields.w;
    return session as unknown as SessionSummary<D>;
  }

  private metadata(fields: SessionFields): Record<string, unknown> {
    const metadata = this.decode<Record<string, unknown>>(fields, 'm');
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new DeserializationError('metadata must decode to an object', 'm');
    return metadata;
  }

  /** The decoded value of `field`; a DeserializationError names the field as its path. */
  private decode<T = unknown>(fields: SessionFields, field: string): T {
    try {
      return this.serializer.decode<T>(fields[field]);
    } catch (error) {
      if (error instanceof DeserializationError) throw new DeserializationError(error.reason, field, { cause: error });
      throw error;
    }
  }
}

/**
 * Defines `handle` on `session` as an enumerable property computed by `compute` when first
 * read (or replaced when assigned), then kept as a plain value: every `get` would otherwise
 * hash the id for a handle few callers read. On a frozen or sealed session (its properties
 * can no longer be redefined) each read computes it again, and assigning it throws TypeError
 * as assigning a read-only property does.
 */
function lazyHandle(session: Record<string, unknown>, compute: () => string): void {
  const keep = (target: object, value: unknown) =>
    Reflect.defineProperty(target, 'handle', { value, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(session, 'handle', {
    enumerable: true,
    configurable: true,
    get(this: object) {
      const handle = compute();
      keep(this, handle);
      return handle;
    },
    set(this: object, value: unknown) {
      if (!keep(this, value)) throw new TypeError("Cannot assign to read only property 'handle' of a frozen or sealed session");
    },
  });
}
