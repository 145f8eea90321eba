import type { KeyBuilder } from '../keys/key-builder.js';

/** Key segment of entries and their leases: `<prefix>:<tenant>:cache:{<key>}[:lease]`. */
const ENTRY = 'cache';
/** Entry keys remembered per tenant, and tenants remembered, before starting over. */
const MAX_REMEMBERED_KEYS = 10_000;
const MAX_REMEMBERED_TENANTS = 1_000;
/** Key segment of tag version counters: `<prefix>:<tenant>:cache-tag:{<tag>}`. */
const TAG = 'cache-tag';

/**
 * The keys of the cache, all from the KeyBuilder (library-internal). User keys and tags are
 * encoded by it, so any string stays inside the tenant's namespace.
 *
 * @example
 * const keys = new CacheKeys(core.keys);
 * keys.entry('acme', 'crew:7'); // coord:acme:cache:{crew%3a7}
 * keys.lease('acme', 'crew:7'); // coord:acme:cache:{crew%3a7}:lease
 */
export class CacheKeys {
  /** tenant → key → full entry key, for the keys read most (bounded: a tenant's map starts over when full). */
  private readonly entries = new Map<string, Map<string, string>>();

  constructor(private readonly keys: KeyBuilder) {}

  /** The full key of an entry; built once per tenant and key while it is remembered (every read builds one). */
  entry(tenant: string, key: string): string {
    let byKey = this.entries.get(tenant);
    if (byKey === undefined) {
      const built = this.keys.key(tenant, ENTRY, key); // validates the tenant before it is remembered
      if (this.entries.size >= MAX_REMEMBERED_TENANTS) this.entries.clear();
      this.entries.set(tenant, new Map([[key, built]]));
      return built;
    }
    let full = byKey.get(key);
    if (full === undefined) {
      full = this.keys.key(tenant, ENTRY, key);
      if (byKey.size >= MAX_REMEMBERED_KEYS) byKey.clear();
      byKey.set(key, full);
    }
    return full;
  }

  /** The `getOrSet` lease of an entry: same hash tag, so `fill` writes both atomically. */
  lease(tenant: string, key: string): string {
    return this.keys.key(tenant, ENTRY, key, { suffix: 'lease' });
  }

  /** The version counter key of each tag. */
  tags(tenant: string, tags: readonly string[]): readonly string[] {
    return tags.length === 0 ? tags : tags.map((tag) => this.keys.key(tenant, TAG, tag));
  }

  /** The SCAN pattern of the tenant's entries whose key matches `glob` (`*` the only wildcard). */
  pattern(tenant: string, glob = '*'): string {
    return this.keys.pattern(tenant, ENTRY, glob);
  }
}
