import 'reflect-metadata';
import { CacheService, ManualClock, type CacheGetOptions, type CoordinationModuleOptions } from '@nest-coordination/core';
import { CacheBus } from '../../libs/coordination/src/cache/cache-bus.js';
import { CACHE_STORE, type CacheStore } from '../../libs/coordination/src/cache/cache-store.interface.js';
import { MemoryCacheStore } from '../../libs/coordination/src/cache/memory-cache.store.js';
import { RedisCacheStore } from '../../libs/coordination/src/cache/redis-cache.store.js';
import { SHARED_TENANT } from '../../libs/coordination/src/keys/key-builder.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { CoordinationCore } from '../support/internals.js';
import { until } from '../support/wait.js';
import { probeStore, type StoreProbe } from './cache-store-probe.js';

/** Generous bound for what must happen (a bus message, a background refresh); nothing is timed. */
export const ARRIVAL_MS = 10_000;

/** One CoordinationModule instance with its CacheService, on a ManualClock unless the options bring a clock. */
export interface CacheTestApp {
  readonly booted: BootedModule;
  readonly cache: CacheService;
  /** The module's store (through `probe`: calls the test makes are counted too). */
  readonly store: CacheStore;
  /** Counts, holds or fails the calls of the module's store (the real one underneath). */
  readonly probe: StoreProbe;
  readonly clock: ManualClock;
  readonly prefix: string;
  /** The full Redis key of `key` (the KeyBuilder's, as the service builds it). */
  entryKey(key: string, tenant?: string): string;
  /** The full key of the getOrSet lease of `key`. */
  leaseKey(key: string, tenant?: string): string;
  close(): Promise<void>;
}

/**
 * Boots a module on `driver` with `options` (a unique prefix unless given) and waits until its
 * cache bus subscription is confirmed: before that the L1 is bypassed and invalidations from
 * other instances would be missed. Its store is the real one of the driver, seen through a
 * StoreProbe (`app.probe`).
 *
 * @example
 * const app = await cacheApp(driver, { cache: { staleMs: 10_000 } });
 * await app.cache.set('k', 1);
 */
export async function cacheApp(driver: DriverCase, options: CoordinationModuleOptions = {}): Promise<CacheTestApp> {
  const clock = new ManualClock(1_700_000_000_000);
  const prefix = options.prefix ?? uniquePrefix('cache');
  let probe!: StoreProbe;
  const store = {
    token: CACHE_STORE,
    inject: [CoordinationCore],
    factory: (core: CoordinationCore) =>
      (probe = probeStore(core.connection ? new RedisCacheStore(core.connection) : new MemoryCacheStore(core.clock))).store,
  };
  const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, clock, ...options, prefix }, { overrides: [store] });
  const bus = booted.get(CacheBus);
  if (!(await bus.ready(ARRIVAL_MS))) throw new Error('the cache bus subscription was not confirmed');
  return {
    booted,
    cache: booted.get(CacheService),
    store: booted.get<CacheStore>(CACHE_STORE),
    probe,
    clock: (options.clock as ManualClock | undefined) ?? clock,
    prefix,
    entryKey: (key, tenant = SHARED_TENANT) => booted.core.keys.key(tenant, 'cache', key),
    leaseKey: (key, tenant = SHARED_TENANT) => booted.core.keys.key(tenant, 'cache', key, { suffix: 'lease' }),
    close: () => booted.close(),
  };
}

/**
 * Reads `key` until a read is an L1 hit: a read does not fill L1 when a drop of its key (another
 * instance's write of it) or a wide drop (tags, pattern, clear) arrives while it reads, so the
 * first read may not stay in L1. This instance's own announcements drop nothing when they come
 * back (test/cache/cache-l1-drops.spec.ts).
 */
export async function warmL1(cache: CacheService, key: string, options?: CacheGetOptions): Promise<void> {
  await until(async () => {
    const before = cache.stats().l1Hits;
    await cache.get(key, options);
    return cache.stats().l1Hits > before;
  }, { timeoutMs: ARRIVAL_MS, message: `an L1 hit of "${key}"` });
}

/** A promise and its resolve function, to hold a loader until the test lets it finish. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** What {@link staleReport} sets up: the options of the entry, and a refresh loader held until `release`. */
export interface StaleReport {
  readonly options: { ttlMs: number; staleMs: number };
  /** A loader that counts its calls and answers once `release` is called. */
  readonly refresher: () => Promise<string>;
  calls(): number;
  release(value: string): void;
}

/**
 * Caches 'v1' under 'report' (ttlMs 60 s, staleMs 600 s) and moves the clock past its ttlMs, so the
 * next getOrSet serves it stale; the stale-while-revalidate tests then refresh it with `refresher`.
 *
 * @example
 * const stale = await staleReport(app);
 * expect(await app.cache.getOrSet('report', stale.refresher, stale.options)).toBe('v1');
 * stale.release('v2');
 */
export async function staleReport(app: CacheTestApp): Promise<StaleReport> {
  const options = { ttlMs: 60_000, staleMs: 600_000 };
  expect(await app.cache.getOrSet('report', () => 'v1', options)).toBe('v1');
  app.clock.advance(60_000);
  const held = gate<string>();
  let calls = 0;
  return {
    options,
    refresher: () => {
      calls++;
      return held.promise;
    },
    calls: () => calls,
    release: (value) => held.open(value),
  };
}
