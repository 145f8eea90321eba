import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock.js';
import { globToRegExp } from '../keys/glob.js';
import { clonePlainJson, isPlainJson, parsePlainJson } from '../serialization/plain-json.js';

/**
 * One entry of the in-process L1: the serialized entry text as it came from (or went to)
 * Redis, decoded per hit, so no caller ever holds another caller's object. `value` is the
 * decoded object itself, kept only when `l1.shareValues` is on (the caller opted in to
 * sharing it).
 *
 * @example
 * const entry: L1Entry = { text, freshUntil: now + 60_000, tagKeys: [keys.key('acme', 'cache-tag', 'crew')], hasValue: false };
 */
export interface L1Entry {
  /** The entry text (header + serialized value). */
  readonly text: string;
  /** Until when (clock ms) the entry is fresh; L1 never serves it from then on. */
  readonly freshUntil: number;
  /** Full keys of the entry's tag counters, for tag drops. */
  readonly tagKeys: readonly string[];
  /** The decoded value, shared by every hit; only with `shareValues`. */
  readonly value?: unknown;
  /** Whether `value` is set (a cached `undefined` cannot exist, but null can). */
  readonly hasValue: boolean;
  /**
   * Without `shareValues`, a plain-JSON text's value parsed once by the L1 itself (never an
   * object a caller holds); each hit hands out a deep copy of it (see CacheL1.valueOf).
   */
  readonly plain?: { readonly value: unknown };
}

/**
 * The `cache.l1` options section, as CacheL1 takes it (validated and defaulted by cache.options.ts).
 *
 * @example
 * new CacheL1({ enabled: true, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, ttlMs: 60_000, shareValues: false }, core.clock);
 */
export interface CacheL1Options {
  enabled: boolean;
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  shareValues: boolean;
}

interface Slot {
  readonly entry: L1Entry;
  readonly tenant: string;
  /** When the slot stops being served (clock ms): the entry's freshUntil, or sooner by `ttlMs`. */
  readonly expiresAt: number;
}

/**
 * Key drops the L1 remembers one by one (full key → generation of its last drop). When more
 * keys are dropped, the oldest are forgotten and every read from before them is refused, as if
 * a wide drop had happened then.
 *
 * @example
 * // a read that started before the MAX_TRACKED_DROPS-th key drop since is refused, whatever its key
 */
export const MAX_TRACKED_DROPS = 1_024;

/** Estimated bytes of one slot beyond its strings (slot, entry, index and LRU bookkeeping). */
const ENTRY_OVERHEAD_BYTES = 160;
const NO_TAGS: readonly string[] = Object.freeze([]);

/**
 * The in-process LRU in front of Redis, bounded by `maxEntries` and `maxBytes` (a JS string
 * counts 2 bytes per character). It holds fresh entries only (ttl = min(`ttlMs`, freshUntil -
 * now), on the injected clock) and keeps two indexes, tag key → full keys and tenant → full
 * keys, in step with every store, eviction and drop, so tag and tenant drops touch only their
 * entries.
 *
 * Coherence: every drop bumps `generation`; a reader notes it before asking Redis and passes
 * it to `set`, which stores nothing when an invalidation that may concern the key arrived
 * meanwhile (the value read may predate it): a drop of that key (`deleteKeys`, tracked per key
 * for the last MAX_TRACKED_DROPS keys dropped) or any wide drop (tags, pattern, tenant, clear,
 * suspend, resume). A drop of other keys does not refuse it, so L1 still fills while the fleet
 * writes other keys. While the fleet bus is down the L1 is `suspend`ed (cleared, bypassed) and
 * cleared again on `resume`, as invalidations may have been missed in between.
 *
 * @example
 * const l1 = new CacheL1({ enabled: true, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, ttlMs: 60_000, shareValues: false }, systemClock);
 * const generation = l1.generation;
 * const text = await store.get(fullKey);
 * if (text !== null) l1.set(fullKey, 'acme', { text, freshUntil, tagKeys: [], hasValue: false }, generation);
 * l1.get(fullKey)?.text; // the same text, until it is no longer fresh or dropped
 */
export class CacheL1 {
  readonly enabled: boolean;
  readonly shareValues: boolean;
  private readonly lru: LRUCache<string, Slot> | undefined;
  private readonly ttlMs: number;
  private readonly byTag = new Map<string, Set<string>>();
  private readonly byTenant = new Map<string, Set<string>>();
  private currentGeneration = 0;
  /** Reads from before this generation are refused: the last wide drop, or the newest key drop forgotten. */
  private floor = 0;
  /** Full key → generation of its last drop, oldest first (a key dropped again moves to the end). */
  private readonly keyDrops = new Map<string, number>();
  private suspended = false;

  constructor(options: CacheL1Options, private readonly clock: Clock) {
    this.enabled = options.enabled;
    this.shareValues = options.shareValues;
    this.ttlMs = Math.max(1, Math.floor(options.ttlMs));
    if (!this.enabled) return;
    this.lru = new LRUCache<string, Slot>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (slot, key) => sizeOf(key, slot.entry),
      // No lru-cache TTL: each slot carries its own expiry, checked on the injected clock with
      // one read per hit (lru-cache's TTL bookkeeping cost more than the rest of an L1 hit).
      dispose: (slot, key) => this.unindex(key, slot),
    });
  }

  /** Bumped by every drop (keys, tags, pattern, tenant, clear, suspend, resume). */
  get generation(): number {
    return this.currentGeneration;
  }

  /**
   * Whether a drop that may concern one of `fullKeys` happened since `generation`: a drop of
   * one of them, or a wide drop. A value read (or written) at `generation` may then be outdated.
   */
  droppedSince(fullKeys: readonly string[], generation: number): boolean {
    for (const fullKey of fullKeys) if (this.dropped(fullKey, generation)) return true;
    return this.floor > generation;
  }

  /**
   * What a hit of `entry` hands out: the shared object (`shareValues`), else a new copy for
   * this caller: a deep copy of the value kept for plain JSON (about three times faster than
   * decoding), or `decode(entry.text)`.
   */
  valueOf(entry: L1Entry, decode: (text: string) => unknown): unknown {
    if (entry.hasValue) return entry.value;
    return entry.plain !== undefined ? clonePlainJson(entry.plain.value) : decode(entry.text);
  }

  /** Entries held now. */
  get size(): number {
    return this.lru?.size ?? 0;
  }

  /** Estimated bytes held now (what `maxBytes` bounds). */
  get bytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  /** The fresh entry of `fullKey`; undefined when disabled, suspended, absent or no longer fresh. */
  get(fullKey: string): L1Entry | undefined {
    if (!this.lru || this.suspended) return undefined;
    const slot = this.lru.get(fullKey);
    if (!slot) return undefined;
    if (slot.expiresAt <= this.clock.now()) {
      this.lru.delete(fullKey);
      return undefined;
    }
    return slot.entry;
  }

  /**
   * Stores `entry` under `fullKey` of `tenant`, unless the L1 is disabled or suspended, the
   * entry is no longer fresh, or a drop of `fullKey` (or a wide drop) happened since the caller
   * read `generationAtRead` (its value may predate an invalidation). Keeps `entry.value` only
   * with `shareValues`.
   */
  set(fullKey: string, tenant: string, entry: L1Entry, generationAtRead: number): void {
    if (!this.lru || this.suspended || this.dropped(fullKey, generationAtRead)) return;
    const now = this.clock.now();
    const expiresAt = Math.min(now + this.ttlMs, entry.freshUntil);
    if (!(expiresAt > now)) {
      // Older than what is held: the held entry is not the latest either.
      this.lru.delete(fullKey);
      return;
    }
    const slot: Slot = { entry: this.copyOf(entry), tenant, expiresAt };
    this.lru.set(fullKey, slot);
    // A slot larger than maxBytes is refused (and any older one dropped): index only what is held.
    if (this.lru.peek(fullKey) !== slot) return;
    for (const tagKey of slot.entry.tagKeys) addTo(this.byTag, tagKey, fullKey);
    addTo(this.byTenant, tenant, fullKey);
  }

  /** Drops the entries of these full keys (remembering the drop of each, see MAX_TRACKED_DROPS). */
  deleteKeys(fullKeys: readonly string[]): void {
    const generation = ++this.currentGeneration;
    // Drops are remembered even without an L1: in-process loads use them to tell whether a
    // caller arriving now may still join a load that started before the drop.
    for (const key of fullKeys) {
      this.keyDrops.delete(key); // re-inserted last: the map stays in generation order
      this.keyDrops.set(key, generation);
      this.lru?.delete(key);
    }
    for (const [key, droppedAt] of this.keyDrops) {
      if (this.keyDrops.size <= MAX_TRACKED_DROPS) break;
      this.keyDrops.delete(key);
      this.floor = droppedAt;
    }
  }

  /** Drops every entry carrying one of these tag counter keys. */
  deleteTags(tagKeys: readonly string[]): void {
    this.wideDrop();
    for (const tagKey of tagKeys) this.dropAll(this.byTag.get(tagKey));
  }

  /**
   * Drops the entries whose full key matches `pattern`, a SCAN glob from KeyBuilder.pattern
   * (escapes included). With `tenant`, only that tenant's entries are tested.
   */
  deletePattern(pattern: string, tenant?: string): void {
    this.wideDrop();
    if (!this.lru) return;
    const match = globToRegExp(pattern);
    const candidates = tenant === undefined ? this.lru.keys() : (this.byTenant.get(tenant) ?? []);
    const matching: string[] = [];
    for (const key of candidates) if (match.test(key)) matching.push(key);
    for (const key of matching) this.lru.delete(key);
  }

  /** Drops every entry of `tenant`. */
  clearTenant(tenant: string): void {
    this.wideDrop();
    this.dropAll(this.byTenant.get(tenant));
  }

  /** Drops every entry. */
  clear(): void {
    this.wideDrop();
    this.lru?.clear();
    this.byTag.clear();
    this.byTenant.clear();
  }

  /** Clears and bypasses the L1 (get → undefined, set → no-op) until `resume`. */
  suspend(): void {
    this.suspended = true;
    this.clear();
  }

  /** Clears the L1 (drops missed while suspended cannot be replayed) and uses it again. */
  resume(): void {
    this.suspended = false;
    this.clear();
  }

  /** Whether `fullKey` was dropped, or a wide drop happened, since `generation`. */
  private dropped(fullKey: string, generation: number): boolean {
    return this.floor > generation || (this.keyDrops.get(fullKey) ?? 0) > generation;
  }

  /** A drop that may concern any key: every read from before it is refused (no key drop needs remembering). */
  private wideDrop(): void {
    this.floor = ++this.currentGeneration;
    this.keyDrops.clear();
  }

  private copyOf(entry: L1Entry): L1Entry {
    const tagKeys = entry.tagKeys.length === 0 ? NO_TAGS : Object.freeze([...entry.tagKeys]);
    if (this.shareValues && entry.hasValue) {
      return Object.freeze({ text: entry.text, freshUntil: entry.freshUntil, tagKeys, value: entry.value, hasValue: true });
    }
    // Parsed here, once per fill: the caller's value may be the object it goes on mutating.
    const plain = isPlainJson(entry.text) ? Object.freeze({ value: parsePlainJson(entry.text) }) : undefined;
    return Object.freeze({ text: entry.text, freshUntil: entry.freshUntil, tagKeys, hasValue: false, plain });
  }

  /** Deletes the keys of an index set (copied first: each delete edits it through dispose). */
  private dropAll(keys: Set<string> | undefined): void {
    if (!this.lru || !keys) return;
    for (const key of [...keys]) this.lru.delete(key);
  }

  /** The LRU let go of `slot` (evicted, expired, replaced, deleted): forget it in the indexes. */
  private unindex(key: string, slot: Slot): void {
    for (const tagKey of slot.entry.tagKeys) removeFrom(this.byTag, tagKey, key);
    removeFrom(this.byTenant, slot.tenant, key);
  }
}

function sizeOf(key: string, entry: L1Entry): number {
  let chars = key.length + entry.text.length;
  for (const tagKey of entry.tagKeys) chars += tagKey.length;
  return chars * 2 + ENTRY_OVERHEAD_BYTES;
}

function addTo(index: Map<string, Set<string>>, name: string, key: string): void {
  let keys = index.get(name);
  if (!keys) index.set(name, (keys = new Set()));
  keys.add(key);
}

function removeFrom(index: Map<string, Set<string>>, name: string, key: string): void {
  const keys = index.get(name);
  if (!keys) return;
  keys.delete(key);
  if (keys.size === 0) index.delete(name);
}
