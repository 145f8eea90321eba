import type { KeyBuilder } from '../keys/key-builder.js';

/** Key segment of entries and their leases: `<prefix>:<tenant>:cache:{<key>}[:lease]`. */
const ENTRY = 'cache';
/** Entry keys remembered (every tenant together) before starting over: a few MB at most. */
export const MAX_REMEMBERED_KEYS = 20_000;
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
  /** tenant → key → full entry key, for the keys read most; MAX_REMEMBERED_KEYS in all, then it starts over. */
  private readonly entries = new Map<string, Map<string, string>>();
  private remembered = 0;

  constructor(private readonly keys: KeyBuilder) {}

  /** The full key of an entry; built once per tenant and key while it is remembered (every read builds one). */
  entry(tenant: string, key: string): string {
    const byKey = this.entries.get(tenant);
    const known = byKey?.get(key);
    if (known !== undefined) return known;
    const full = this.keys.key(tenant, ENTRY, key); // validates the tenant before it is remembered
    if (this.remembered >= MAX_REMEMBERED_KEYS) {
      this.entries.clear();
      this.remembered = 0;
    }
    if (byKey !== undefined && this.entries.has(tenant)) byKey.set(key, full);
    else this.entries.set(tenant, new Map([[key, full]]));
    this.remembered++;
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
