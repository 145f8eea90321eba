import type { KeyBuilder } from '../keys/key-builder.js';

/** Key segment of entries and their leases: `<prefix>:<tenant>:cache:{<key>}[:lease]`. */
const ENTRY = 'cache';
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
  constructor(private readonly keys: KeyBuilder) {}

  entry(tenant: string, key: string): string {
    return this.keys.key(tenant, ENTRY, key);
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
