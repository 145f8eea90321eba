import 'reflect-metadata';
import { CacheService, ManualClock, type CacheGetOptions, type CoordinationModuleOptions } from '@nest-coordination/core';
import { CacheBus } from '../../libs/coordination/src/cache/cache-bus.js';
import { CACHE_STORE, type CacheStore } from '../../libs/coordination/src/cache/cache-store.interface.js';
import { SHARED_TENANT } from '../../libs/coordination/src/keys/key-builder.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** Generous bound for what must happen (a bus message, a background refresh); nothing is timed. */
export const ARRIVAL_MS = 10_000;

/** One CoordinationModule instance with its CacheService, on a ManualClock unless the options bring a clock. */
export interface CacheTestApp {
  readonly booted: BootedModule;
  readonly cache: CacheService;
  readonly store: CacheStore;
  readonly clock: ManualClock;
  readonly prefix: string;
  /** The full Redis key of `key` (the KeyBuilder's, as the service builds it). */
  entryKey(key: string, tenant?: string): string;
  close(): Promise<void>;
}

/**
 * Boots a module on `driver` with `options` (a unique prefix unless given) and waits until its
 * cache bus subscription is confirmed: before that the L1 is bypassed and invalidations from
 * other instances would be missed.
 *
 * @example
 * const app = await cacheApp(driver, { cache: { staleMs: 10_000 } });
 * await app.cache.set('k', 1);
 */
export async function cacheApp(driver: DriverCase, options: CoordinationModuleOptions = {}): Promise<CacheTestApp> {
  const clock = new ManualClock(1_700_000_000_000);
  const prefix = options.prefix ?? uniquePrefix('cache');
  const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, clock, ...options, prefix });
  const bus = booted.get(CacheBus);
  if (!(await bus.ready(ARRIVAL_MS))) throw new Error('the cache bus subscription was not confirmed');
  return {
    booted,
    cache: booted.get(CacheService),
    store: booted.get<CacheStore>(CACHE_STORE),
    clock: (options.clock as ManualClock | undefined) ?? clock,
    prefix,
    entryKey: (key, tenant = SHARED_TENANT) => booted.core.keys.key(tenant, 'cache', key),
    close: () => booted.close(),
  };
}

/**
 * Reads `key` until a read is an L1 hit: this instance's own write announcements (and any other
 * instance's) drop L1 entries when they arrive, so the first read after a write may not stay in L1.
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
