import type { CacheBusKind } from './cache-bus.js';
import { encodeEntry } from './cache-entry.js';
import { readVersions, type CacheParts } from './cache-reader.js';
import type { CacheLease, CacheStoreEntry } from './cache-store.interface.js';

/** One entry to write: its full key, serialized value, lifetimes and tag counter keys. */
export interface WriteItem {
  readonly tenant: string;
  readonly fullKey: string;
  /** The entry's getOrSet lease key: every explicit write drops it (see CacheStore). */
  readonly leaseKey: string;
  /** The serialized value (Serializer.encode). */
  readonly body: string;
  /** The value itself, kept in L1 only with `l1.shareValues`. */
  readonly value: unknown;
  readonly ttlMs: number;
  /** Extra lifetime in Redis after `ttlMs` (the stale-while-revalidate window). */
  readonly staleMs: number;
  readonly tagKeys: readonly string[];
}

const NO_VERSIONS: readonly number[] = Object.freeze([]);

/**
 * The write path of CacheService (library-internal). Every write goes to the store first, then
 * one bus message names what changed, so every instance drops it from its L1 (this one at
 * once) and `getOrSet` callers waiting for it wake up. Explicit writes and deletions drop the
 * entries' leases in the same round trip, so a loader that read its data before them stores
 * nothing (`fill` writes only under the lease). Explicit writes and invalidations throw when
 * Redis is unreachable (a lost invalidation must not be silent), after dropping what they name
 * from this instance's L1; the write after a loader is counted and logged instead.
 *
 * @example
 * await writer.write([item], true, 'cache.set');
 * await writer.invalidate('acme', 'tags', [tagKey], 'cache.invalidateTags');
 */
export class CacheWriter {
  constructor(private readonly parts: CacheParts) {}

  /** `set` / `mset`: reads the tags' versions (one round trip when tagged), writes, announces. Throws on failure. */
  async write(items: readonly WriteItem[], useL1: boolean, operation: string): Promise<void> {
    const { store, clock } = this.parts;
    const generation = this.parts.l1.generation;
    let freshUntil: number[] = [];
    try {
      const versions = await readVersions(store, [...new Set(items.flatMap((item) => item.tagKeys))]);
      const now = clock.now();
      freshUntil = items.map((item) => now + item.ttlMs);
      const entries: CacheStoreEntry[] = items.map((item, i) => ({
        key: item.fullKey,
        value: encodeEntry(item.body, freshUntil[i], 0, item.tagKeys, item.tagKeys.length === 0 ? NO_VERSIONS : item.tagKeys.map((key) => versions.get(key)!)),
        ttlMs: item.ttlMs + item.staleMs,
        lease: item.leaseKey,
      }));
      if (entries.length === 1) await store.set(entries[0].key, entries[0].value, entries[0].ttlMs, entries[0].lease);
      else await store.setMany(entries);
    } catch (error) {
      this.parts.failures.write(error, operation);
    }
    await this.announceAndRemember(items, freshUntil, useL1 ? generation : undefined, operation, false);
  }

  /**
   * Stores what a `getOrSet` loader produced under its lease, with the tag versions read before
   * it ran. The store writes it only while the lease is still held (see CacheStore.fill): a
   * write or deletion of the entry since then dropped the lease, and the value, loaded before
   * it, is not stored. Never throws: a failure is counted and logged, the caller has its value
   * either way.
   */
  async fill(item: WriteItem, deltaMs: number, versions: readonly number[], lease: CacheLease, useL1: boolean, generation: number): Promise<void> {
    const { store, clock } = this.parts;
    const freshUntil = clock.now() + item.ttlMs;
    const text = encodeEntry(item.body, freshUntil, deltaMs, item.tagKeys, versions);
    try {
      if (!(await store.fill(item.fullKey, text, item.ttlMs + item.staleMs, lease))) {
        const { leaseTtlMs } = this.parts.options;
        if (deltaMs >= leaseTtlMs) {
          this.parts.failures.warn(`The loader of ${item.fullKey} took ${deltaMs} ms, longer than its lease (cache.leaseTtlMs ${leaseTtlMs} ms): its value was not stored`);
        }
        return;
      }
    } catch (error) {
      this.parts.failures.swallowed(error, 'cache.getOrSet', `Storing the loaded value of ${item.fullKey}`);
      // Else the lease outlives the failure: every miss of the key, fleet-wide, would wait leaseWaitMs for it.
      await this.release(item.tenant, item.fullKey, lease, true);
      return;
    }
    await this.announceAndRemember([item], [freshUntil], useL1 ? generation : undefined, 'cache.getOrSet', true);
  }

  /**
   * Drops a lease and, when `noValue`, tells the fleet that its holder stored nothing (a loader
   * failed or returned undefined), so that its waiters call their own loaders at once instead of
   * taking the lease one after another (CacheBus.publishNoValue); without it the lease was not
   * needed (the value was there). Never throws.
   */
  async release(tenant: string, fullKey: string, lease: CacheLease, noValue: boolean): Promise<void> {
    try {
      await this.parts.store.releaseLease(lease.key, lease.token);
    } catch (error) {
      this.parts.failures.swallowed(error, 'cache.getOrSet', `Releasing the lease of ${fullKey}`);
      return;
    }
    if (!noValue) return;
    try {
      await this.parts.bus.publishNoValue(tenant, [fullKey]);
    } catch (error) {
      this.parts.failures.swallowed(error, 'cache.getOrSet', `Announcing ${fullKey} on the cache bus`);
    }
  }

  /** `delete` (the entries and their leases): the number of entries that existed. */
  async delete(tenant: string, fullKeys: readonly string[], leaseKeys: readonly string[]): Promise<number> {
    let deleted = 0;
    try {
      deleted = await this.parts.store.delete(fullKeys, leaseKeys);
    } catch (error) {
      this.parts.l1.deleteKeys(fullKeys);
      this.parts.failures.write(error, 'cache.delete');
    }
    await this.announce(tenant, 'keys', fullKeys, 'cache.delete', false);
    return deleted;
  }

  /** `invalidateTags` (one INCR per tag), `invalidatePattern` and `clear` (SCAN + UNLINK on every master). */
  async invalidate(tenant: string, kind: Exclude<CacheBusKind, 'keys'>, values: readonly string[], operation: string): Promise<number> {
    const { store, l1 } = this.parts;
    let deleted = 0;
    try {
      if (kind === 'tags') await store.bumpCounters(values);
      else deleted = await this.deleteMatchingTwice(values[0]);
    } catch (error) {
      if (kind === 'tags') l1.deleteTags(values);
      else if (kind === 'pattern') l1.deletePattern(values[0], tenant);
      else l1.clearTenant(tenant);
      this.parts.failures.write(error, operation);
    }
    await this.announce(tenant, kind, kind === 'clear' ? [] : values, operation, false);
    return deleted;
  }

  /**
   * Deletes what matches `pattern` in two passes; returns the total. One pass (SCAN, then UNLINK
   * per batch) is not atomic, and an entry and its lease sit in different SCAN buckets: a loader
   * holding the lease may fill while the SCAN runs, writing the entry into a bucket the SCAN
   * already passed and dropping the lease before the SCAN reaches it; nothing would remove that
   * entry. After the first pass, every lease that existed when it started is gone: deleted by it
   * (its holder's fill then writes nothing), or dropped by a fill during it, whose entry the
   * second pass deletes. A loader leasing after the first pass started read its data after the
   * invalidation began, so its value may stay.
   */
  private async deleteMatchingTwice(pattern: string): Promise<number> {
    const first = await this.parts.store.deleteMatching(pattern);
    return first + (await this.parts.store.deleteMatching(pattern));
  }

  /** Publishes a bus message (dropping the entries from this L1 at once); throws unless `quiet`. */
  private async announce(tenant: string, kind: CacheBusKind, values: readonly string[], operation: string, quiet: boolean): Promise<void> {
    try {
      await this.parts.bus.publish(tenant, kind, values);
    } catch (error) {
      if (quiet) this.parts.failures.swallowed(error, operation, `Announcing ${values[0] ?? tenant} on the cache bus`);
      else this.parts.failures.write(error, operation);
    }
  }

  /**
   * Announces the written entries, and keeps them in this instance's L1 when `generation` (the
   * L1 generation before the write) is given, unless a drop that may concern them arrived
   * since, e.g. another instance's write of one of them or a tag invalidated while a loader ran.
   * The announcement itself drops them here (synchronously, as `bus.publish` is called): the
   * generation after that is the one they are kept at, so a drop arriving while the message
   * goes out still refuses them.
   */
  private async announceAndRemember(
    items: readonly WriteItem[], freshUntil: readonly number[], generation: number | undefined, operation: string, quiet: boolean,
  ): Promise<void> {
    const { l1 } = this.parts;
    const fullKeys = items.map((item) => item.fullKey);
    const keep = generation !== undefined && !l1.droppedSince(fullKeys, generation);
    const announced = this.announce(items[0].tenant, 'keys', fullKeys, operation, quiet);
    const afterOwnDrop = l1.generation;
    await announced;
    if (!keep) return;
    items.forEach((item, i) => {
      const entry = { text: item.body, freshUntil: freshUntil[i], tagKeys: item.tagKeys, value: item.value, hasValue: l1.shareValues };
      l1.set(item.fullKey, item.tenant, entry, afterOwnDrop);
    });
  }
}
