import { ManualClock } from '@nest-coordination/core';
import type { Cluster } from 'ioredis';
import { MemoryCacheStore } from '../../../libs/coordination/src/cache/memory-cache.store.js';
import { RedisCacheStore } from '../../../libs/coordination/src/cache/redis-cache.store.js';
import { KeyBuilder } from '../../support/internals.js';
import { bootModule } from '../../support/boot.js';
import { clusterLayout } from '../../support/cluster-layout.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { elapseServerTime } from '../../support/server-clock.js';
import { describeCacheStoreContract, type CacheStoreUnderTest } from './cache-store.contract.js';

/** A memory store on a ManualClock, or a Redis store on the connection of a booted module (its own prefix). */
async function storeFor(driver: DriverCase): Promise<CacheStoreUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    return {
      store: new MemoryCacheStore(clock),
      keys: new KeyBuilder(uniquePrefix('cachestore')),
      elapse: async (ms) => clock.advance(ms),
      ...clusterLayout(undefined),
      close: async () => undefined,
    };
  }
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('cachestore'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  return {
    store: new RedisCacheStore(connection),
    keys: booted.core.keys,
    elapse: (ms) => elapseServerTime(connection, ms),
    ...clusterLayout(driver.name === 'cluster' ? (connection.client as Cluster) : undefined),
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('CacheStore contract ($name)', (driver) => {
  // 200 000 keys where they once overflowed the call stack (MGET / UNLINK built from them); on a
  // cluster every key is its own command, so fewer keep the suite fast (800 000 commands took ~26 s).
  describeCacheStoreContract(() => storeFor(driver), { exactClock: driver.name === 'memory', manyKeys: driver.name === 'cluster' ? 5_000 : 200_000 });
});
