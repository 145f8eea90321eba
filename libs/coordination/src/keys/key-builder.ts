import { InvalidKeyError, TenantInvalidError } from '../errors/coordination.error.js';

/** Characters that could widen a SCAN/PSUBSCRIBE glob or break a `{hash tag}`. */
const GLOB_OR_TAG = /[*?[\]\\{}]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SEGMENT = /^[a-z][a-z0-9-]{0,31}$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Tenants whose namespaces a KeyBuilder remembers per capability before it starts over. */
const MAX_REMEMBERED_TENANTS = 10_000;
/** Longest user-supplied id; longer keys waste memory on every node and are almost always a bug. */
export const MAX_ID_LENGTH = 512;

/**
 * Tenant ids must start with a letter or digit, so the reserved default tenant
 * (`_shared`) can never be claimed by a caller.
 */
export const SHARED_TENANT = '_shared';

/** Escapes `* ? [ ] \` so that a literal string can sit inside a Redis glob pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** For each ASCII code, its encoding in a key (`%xx`), or '' when it stands for itself. */
const ASCII_ENCODING: readonly string[] = Array.from({ length: 0x80 }, (_, code) =>
  code <= 0x20 || code === 0x7f || '%*?[]\\{}:'.includes(String.fromCharCode(code)) ? `%${code.toString(16).padStart(2, '0')}` : '',
);

/**
 * Percent-encodes the characters that are dangerous in a key (glob and hash-tag
 * characters, `:`, `%` itself, whitespace and control characters), and lone UTF-16
 * surrogates as `%uXXXX`: UTF-8 has no encoding for them, so Redis would receive every
 * one of them as the same U+FFFD bytes. The mapping is injective on the bytes Redis sees,
 * so two distinct ids never share a key.
 */
export function encodeId(id: string): string {
  // Runs for every key of every call: copy untouched runs with slice, and return `id` itself
  // when nothing needs encoding.
  let out = '';
  let from = 0;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    let encoded: string;
    if (code < 0x80) {
      encoded = ASCII_ENCODING[code];
      if (encoded === '') continue;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = i + 1 < id.length ? id.charCodeAt(i + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a well-formed surrogate pair: one code point, kept
        continue;
      }
      encoded = `%u${code.toString(16)}`;
    } else {
      continue;
    }
    out += id.slice(from, i) + encoded;
    from = i + 1;
  }
  return from === 0 ? id : out + id.slice(from);
}

/**
 * Reverses {@link encodeId} (`%xx` and `%uXXXX`): the id a key was built from, e.g. the user id
 * of an index key found by a SCAN.
 *
 * @example
 * decodeId(encodeId('invoice:42')); // 'invoice:42'
 */
export function decodeId(encoded: string): string {
  return encoded.replace(/%u([0-9a-f]{4})|%([0-9a-f]{2})/g, (_, unit: string | undefined, byte: string | undefined) =>
    String.fromCharCode(parseInt((unit ?? byte)!, 16)),
  );
}

/**
 * The hash tag of a resource. An empty tag (`{}`) would make Redis Cluster hash the whole
 * key, scattering one resource's keys over several slots; `%` alone is never the encoding
 * of a non-empty id, so it stands for the empty one.
 */
function tagOf(encoded: string): string {
  return encoded === '' ? '%' : encoded;
}

/** Encodes and escapes each literal part of `glob`, keeping `*` as the only wildcard. */
function globOf(glob: string): string {
  return glob
    .split('*')
    .map((part) => escapeGlob(encodeId(part)))
    .join('*');
}

const TENANT_RULE = '1-64 characters of letters, digits, "_", "." or "-", starting with a letter or digit';
/** Longest part of a rejected tenant echoed in an error: a tenant id is never longer than this. */
const ECHO_LIMIT = 64;

/**
 * Throws `TenantInvalidError` unless `tenant` is a well-formed tenant id. The message names
 * what was wrong without serializing the value: a non-string is named by its type (a BigInt
 * or a cyclic object cannot be JSON-encoded, and an object may be huge), and a string is
 * echoed up to 64 characters plus its length.
 *
 * @example
 * assertTenantId('acme');  // passes
 * assertTenantId(42n);     // TenantInvalidError: Invalid tenant id: must be a string, got a bigint
 */
export function assertTenantId(tenant: unknown): asserts tenant is string {
  if (typeof tenant !== 'string') throw new TenantInvalidError(`must be a string, got ${kindOf(tenant)}`);
  if (!isTenantId(tenant)) throw new TenantInvalidError(`${echo(tenant)} must be ${TENANT_RULE}`);
}

/**
 * Whether `tenant` is a well-formed tenant id (what assertTenantId accepts), without throwing:
 * the reserved shared namespace (`_shared`) is not one.
 *
 * @example
 * isTenantId('acme'); // true
 * isTenantId('a*b');  // false
 */
export function isTenantId(tenant: string): boolean {
  return TENANT.test(tenant);
}

/**
 * How an error message names a value it must not echo: its type with an article (`a number`,
 * `an array`, `null`).
 *
 * @example
 * throw new InvalidArgumentError('id', `must be a string, got ${kindOf(id)}`);
 */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return `${type === 'object' ? 'an' : 'a'} ${type}`;
}

function echo(value: string): string {
  if (value.length <= ECHO_LIMIT) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, ECHO_LIMIT)).slice(0, -1)}…" (${value.length} characters)`;
}

/**
 * Throws unless `id` is safe to use verbatim as a resource id: a non-empty string of at
 * most MAX_ID_LENGTH characters without glob, hash-tag or control characters. `:` is
 * allowed (it cannot escape the `{...}` tag the id is wrapped in).
 */
export function assertSafeId(id: unknown, name = 'key'): asserts id is string {
  if (typeof id !== 'string') throw new InvalidKeyError(name, `must be a string, got ${typeof id}`);
  if (id.length === 0) throw new InvalidKeyError(name, 'must not be empty');
  if (id.length > MAX_ID_LENGTH) throw new InvalidKeyError(name, `must be at most ${MAX_ID_LENGTH} characters`);
  if (GLOB_OR_TAG.test(id)) {
    throw new InvalidKeyError(name, `${JSON.stringify(id)} contains a glob or hash-tag character (* ? [ ] \\ { })`);
  }
  if (CONTROL.test(id)) throw new InvalidKeyError(name, `${JSON.stringify(id)} contains a control character`);
}

export interface KeyOptions {
  /** A fixed suffix after the hash tag, e.g. `queue` in `p:t:lock:{r}:queue`. */
  suffix?: string;
  /**
   * Caller-supplied parts after the suffix, each encoded like the resource, for keys that
   * share one resource's hash tag, e.g. the counters of several policies under one partition.
   */
  parts?: readonly string[];
}

/**
 * A key's tail after the hash tag (`:<suffix>[:<part>...]`), validated and encoded once by
 * {@link KeyBuilder.tail} for hot paths that build many keys ending alike (e.g. one per policy).
 */
export type KeyTail = string & { readonly __keyTail: true };

/**
 * The only place keys are built: `<prefix>:<tenant>:<capability>:{<resource>}[:<suffix>][:<part>...]`.
 * The hash tag wraps the resource so that every key of one resource lives in one
 * cluster slot (one Lua script can touch them all) while resources spread over the cluster.
 *
 * @example
 * const keys = new KeyBuilder('coord');
 * keys.key('acme', 'lock', 'invoice:42');            // coord:acme:lock:{invoice%3a42}
 * keys.key('acme', 'lock', 'invoice:42', { suffix: 'fence' });
 * keys.pattern('acme', 'cache', 'user:*');          // SCAN pattern, tenant-scoped
 */
export class KeyBuilder {
  /** capability → tenant → namespace, for tenants already validated (bounded: cleared when full). */
  private readonly namespaces = new Map<string, Map<string, string>>();

  constructor(readonly prefix: string) {
    if (typeof prefix !== 'string') throw new InvalidKeyError('prefix', `must be a string, got ${kindOf(prefix)}`);
    if (!PREFIX.test(prefix)) {
      throw new InvalidKeyError('prefix', `${JSON.stringify(prefix)} must be 1-64 letters, digits, "_", "." or "-"`);
    }
  }

  /**
   * The full key of a resource. The resource id is encoded, so any string is safe.
   *
   * @example
   * keys.key('acme', 'lock', 'invoice:42', { suffix: 'fence' }); // coord:acme:lock:{invoice%3a42}:fence
   */
  key(tenant: string, capability: string, resource: string, options?: KeyOptions): string;
  /**
   * The hot paths' form: a tail built once with {@link KeyBuilder.tail}, then `part` (encoded)
   * after it, as if it were the last of the tail's `parts`.
   *
   * @example
   * const tail = keys.tail({ suffix: 'fw', parts: ['per-user'] }); // once
   * keys.key('acme', 'rl', 'user:1', tail);          // coord:acme:rl:{user%3a1}:fw:per-user
   * keys.key('acme', 'rl', '@acme', tail, 'user:1'); // coord:acme:rl:{@acme}:fw:per-user:user%3a1
   */
  key(tenant: string, capability: string, resource: string, tail: KeyTail, part?: string): string;
  key(tenant: string, capability: string, resource: string, options: KeyOptions | KeyTail = {}, part?: string): string {
    const key = `${this.namespace(tenant, capability)}{${tagOf(encodeId(resource))}}${typeof options === 'string' ? options : keyTail(options)}`;
    return part === undefined ? key : `${key}:${encodeId(part)}`;
  }

  /**
   * `:<suffix>[:<part>...]` of `options`, validated and encoded: build it once to reuse it with key().
   *
   * @example
   * keys.key('acme', 'rl', 'user:1', keys.tail({ suffix: 'fw' })); // coord:acme:rl:{user%3a1}:fw
   */
  tail(options: KeyOptions): KeyTail {
    return keyTail(options);
  }

  /** `<prefix>:<tenant>:<capability>:` — every key of one capability of one tenant starts with it. */
  namespace(tenant: string, capability: string): string {
    // Validated once per tenant and capability: every call of every capability builds keys here.
    let byTenant = this.namespaces.get(capability);
    if (byTenant === undefined) {
      segment(capability, 'capability');
      this.namespaces.set(capability, (byTenant = new Map()));
    }
    let namespace = byTenant.get(tenant);
    if (namespace === undefined) {
      if (tenant !== SHARED_TENANT) assertTenantId(tenant);
      if (byTenant.size >= MAX_REMEMBERED_TENANTS) byTenant.clear();
      byTenant.set(tenant, (namespace = `${this.prefix}:${tenant}:${capability}:`));
    }
    return namespace;
  }

  /**
   * A SCAN pattern over the resources of one tenant's capability. `resourceGlob` may use
   * `*` as a wildcard; every other character is taken literally (encoded, then escaped).
   */
  pattern(tenant: string, capability: string, resourceGlob = '*'): string {
    return `${escapeGlob(this.namespace(tenant, capability))}{${tagOf(globOf(resourceGlob))}}*`;
  }

  /** A pub/sub channel name scoped to a tenant: `<prefix>:<tenant>:<capability>:<name>`. */
  channel(tenant: string, capability: string, name: string): string {
    return `${this.namespace(tenant, capability)}${encodeId(name)}`;
  }

  /** A PSUBSCRIBE pattern: `*` in `nameGlob` is a wildcard, everything else is literal. */
  channelPattern(tenant: string, capability: string, nameGlob: string): string {
    return escapeGlob(this.namespace(tenant, capability)) + globOf(nameGlob);
  }

}

/**
 * {@link KeyBuilder.tail} without a builder (a tail does not depend on the prefix), for values
 * computed once outside any builder, e.g. a normalized rate-limit policy's counter key tail.
 *
 * @example
 * keys.key('acme', 'rl', 'user:1', keyTail({ suffix: 'fw', parts: ['per-user'] })); // coord:acme:rl:{user%3a1}:fw:per-user
 */
export function keyTail(options: KeyOptions): KeyTail {
  let tail = '';
  if (options.suffix !== undefined) tail += `:${segment(options.suffix, 'suffix')}`;
  if (options.parts) for (const part of options.parts) tail += `:${encodeId(part)}`;
  return tail as KeyTail;
}

function segment(value: string, what: string): string {
  if (!SEGMENT.test(value)) throw new InvalidKeyError(what, `${JSON.stringify(value)} must match ${SEGMENT}`);
  return value;
}
