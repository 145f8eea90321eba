import type { Logger } from '@nestjs/common';
import type { Clock } from '../core/clock.js';
import type { Serializer } from '../serialization/serializer.js';
import type { CacheBus } from './cache-bus.js';
import { parseEntry, tagsCurrent, type CacheEntryHeader } from './cache-entry.js';
import type { CacheFailures } from './cache-failures.js';
import type { CacheL1 } from './cache-l1.js';
import type { CacheMeter } from './cache-stats.js';
import type { CacheStore } from './cache-store.interface.js';
import type { ResolvedCacheOptions } from './cache.options.js';
import type { CacheLookup } from './cache.types.js';

/** What the parts of CacheService (reader, writer, loader) share; built once by the service. */
export interface CacheParts {
  readonly store: CacheStore;
  readonly l1: CacheL1;
  readonly bus: CacheBus;
  readonly serializer: Serializer;
  readonly clock: Clock;
  readonly meter: CacheMeter;
  readonly failures: CacheFailures;
  readonly options: ResolvedCacheOptions;
  readonly logger: Logger;
}

/** A valid entry read from the store: its text and parsed header. */
export interface FoundEntry {
  readonly text: string;
  readonly header: CacheEntryHeader;
}

/** What `decode` returns for an entry whose value cannot be decoded (read as a miss). */
export const UNDECODABLE: unique symbol = Symbol('undecodable');

/**
 * The read path of CacheService (library-internal): L1, then the store, checking freshness and
 * tag versions, decoding a copy per caller, filling L1. An L2 hit of an untagged entry is one
 * store read, a header parse and a decode; a tagged entry costs one more round trip for its tag
 * counters (all tags of all entries of an `mget` in one).
 *
 * @example
 * const value = await reader.get(tenant, fullKey, true, 'cache.get');
 */
export class CacheReader {
  /** Decodes a serialized value (an L1 entry's text); bound once for CacheL1.valueOf. */
  readonly decodeText = (text: string): unknown => this.parts.serializer.decode(text);

  constructor(private readonly parts: CacheParts) {}

  /**
   * The fresh value of `fullKey`, or undefined; a Redis failure degrades to a miss (or throws, see
   * CacheFailures.read). Not async: an L1 hit resolves at once, an L2 hit of an untagged entry
   * chains one `then` on the store's promise (the hot paths of the cache).
   */
  get(tenant: string, fullKey: string, useL1: boolean, operation: string): Promise<unknown> {
    const { l1, meter } = this.parts;
    if (useL1) {
      const hit = l1.get(fullKey);
      if (hit !== undefined) {
        meter.l1Hit();
        try {
          return Promise.resolve(l1.valueOf(hit, this.decodeText));
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    const generation = l1.generation;
    const degrade = (error: unknown): undefined => {
      this.parts.failures.read(error, operation);
      meter.miss();
      return undefined;
    };
    return this.parts.store.get(fullKey).then((text) => {
      const found = text === null ? undefined : this.validate(text);
      // A tagged entry's counters are read in a second round trip, which can fail on its own.
      return found instanceof Promise
        ? found.then((valid) => this.settle(tenant, fullKey, useL1, valid, generation), degrade)
        : this.settle(tenant, fullKey, useL1, found, generation);
    }, degrade);
  }

  /** The value `get` returns for what it found: decoded when fresh (kept in L1), else a miss. */
  private settle(tenant: string, fullKey: string, useL1: boolean, found: FoundEntry | undefined, generation: number): unknown {
    const value = found !== undefined && found.header.freshUntil > this.parts.clock.now() ? this.decode(fullKey, found) : UNDECODABLE;
    if (value === UNDECODABLE) {
      this.parts.meter.miss();
      return undefined;
    }
    if (useL1) this.remember(tenant, fullKey, found!, value, generation);
    this.parts.meter.l2Hit();
    return value;
  }

  /** What `fullKey` holds: a fresh value (`hit`), one past its ttlMs still in Redis (`stale`), or nothing valid (`miss`). */
  async lookupState(tenant: string, fullKey: string, useL1: boolean, operation: string): Promise<CacheLookup> {
    const { l1, meter } = this.parts;
    const hit = useL1 ? l1.get(fullKey) : undefined;
    if (hit !== undefined) {
      meter.l1Hit();
      return { state: 'hit', value: l1.valueOf(hit, this.decodeText) };
    }
    const generation = l1.generation;
    let found: FoundEntry | undefined;
    try {
      found = await this.lookup(fullKey);
    } catch (error) {
      this.parts.failures.read(error, operation);
    }
    const value = found === undefined ? UNDECODABLE : this.decode(fullKey, found);
    if (value === UNDECODABLE) {
      meter.miss();
      return { state: 'miss', value: undefined };
    }
    if (found!.header.freshUntil <= this.parts.clock.now()) {
      meter.staleServe();
      return { state: 'stale', value };
    }
    if (useL1) this.remember(tenant, fullKey, found!, value, generation);
    meter.l2Hit();
    return { state: 'hit', value };
  }

  /** Whether `fullKey` holds a fresh, valid entry (nothing is decoded). */
  async has(fullKey: string, useL1: boolean, operation: string): Promise<boolean> {
    const { meter } = this.parts;
    if (useL1 && this.parts.l1.get(fullKey) !== undefined) {
      meter.l1Hit();
      return true;
    }
    let found: FoundEntry | undefined;
    try {
      found = await this.lookup(fullKey);
    } catch (error) {
      this.parts.failures.read(error, operation);
    }
    const fresh = found !== undefined && found.header.freshUntil > this.parts.clock.now();
    if (fresh) meter.l2Hit();
    else meter.miss();
    return fresh;
  }

  /** `get` of many keys: L1 first, the rest in one store read (plus one for all their tags). */
  async getMany(tenant: string, fullKeys: readonly string[], useL1: boolean, operation: string): Promise<unknown[]> {
    const { l1, meter } = this.parts;
    const results = new Array<unknown>(fullKeys.length).fill(undefined);
    const pending: number[] = [];
    for (let i = 0; i < fullKeys.length; i++) {
      const hit = useL1 ? l1.get(fullKeys[i]) : undefined;
      if (hit === undefined) {
        pending.push(i);
        continue;
      }
      meter.l1Hit();
      results[i] = l1.valueOf(hit, this.decodeText);
    }
    if (pending.length === 0) return results;
    const generation = l1.generation;
    let found: Array<FoundEntry | undefined>;
    try {
      found = await this.validateMany(await this.parts.store.getMany(pending.map((i) => fullKeys[i])));
    } catch (error) {
      this.parts.failures.read(error, operation);
      meter.miss(pending.length);
      return results;
    }
    const now = this.parts.clock.now();
    pending.forEach((i, j) => {
      const entry = found[j];
      const value = entry !== undefined && entry.header.freshUntil > now ? this.decode(fullKeys[i], entry) : UNDECODABLE;
      if (value === UNDECODABLE) return meter.miss();
      results[i] = value;
      if (useL1) this.remember(tenant, fullKeys[i], entry!, value, generation);
      meter.l2Hit();
    });
    return results;
  }

  /** The valid entry of `fullKey` (fresh or stale), or undefined; throws what the store throws. */
  lookup(fullKey: string): Promise<FoundEntry | undefined> {
    return this.parts.store.get(fullKey).then((text) => (text === null ? undefined : this.validate(text)));
  }

  /** `text` as an entry whose tags are all current, or undefined; a promise only for a tagged entry (one counter read). */
  validate(text: string): FoundEntry | undefined | Promise<FoundEntry | undefined> {
    const header = parseEntry(text);
    if (header === undefined) return undefined;
    if (header.tagKeys.length === 0) return { text, header };
    return this.parts.store.readCounters(header.tagKeys).then((current) => (tagsCurrent(header, current) ? { text, header } : undefined));
  }

  /** The decoded value of an entry (a new copy), or UNDECODABLE (logged) when it cannot be decoded. */
  decode(fullKey: string, found: FoundEntry): unknown {
    try {
      return this.parts.serializer.decode(found.text.slice(found.header.bodyStart));
    } catch (error) {
      this.parts.failures.swallowed(error, 'cache.get', `Decoding the entry ${fullKey} (read as a miss)`);
      return UNDECODABLE;
    }
  }

  /** Keeps a value read at `generation` in L1 (a no-op when an invalidation arrived since). */
  remember(tenant: string, fullKey: string, found: FoundEntry, value: unknown, generation: number): void {
    const { header, text } = found;
    const entry = { text: text.slice(header.bodyStart), freshUntil: header.freshUntil, tagKeys: header.tagKeys, value, hasValue: this.parts.l1.shareValues };
    this.parts.l1.set(fullKey, tenant, entry, generation);
  }

  private async validateMany(texts: ReadonlyArray<string | null>): Promise<Array<FoundEntry | undefined>> {
    const headers = texts.map((text) => (text === null ? undefined : parseEntry(text)));
    const tagKeys = [...new Set(headers.flatMap((header) => header?.tagKeys ?? []))];
    const versions = await readVersions(this.parts.store, tagKeys);
    return headers.map((header, i) => {
      if (header === undefined) return undefined;
      for (let t = 0; t < header.tagKeys.length; t++) if (versions.get(header.tagKeys[t]) !== header.tagVersions[t]) return undefined;
      return { text: texts[i]!, header };
    });
  }
}

/** The current version of each distinct tag counter, in one store call (none without tags). */
export async function readVersions(store: CacheStore, distinctTagKeys: readonly string[]): Promise<ReadonlyMap<string, number>> {
  if (distinctTagKeys.length === 0) return new Map();
  const counters = await store.readCounters(distinctTagKeys);
  return new Map(distinctTagKeys.map((key, i) => [key, counters[i]]));
}
