import { ManualClock } from '@nest-coordination/core';
import { KeyBuilder } from '../../support/internals.js';
import { LockKeys } from '../../../libs/coordination/src/locks/lock-keys.js';
import { MemoryLockStore } from '../../../libs/coordination/src/locks/memory-lock.store.js';
import { RedisLockStore } from '../../../libs/coordination/src/locks/redis-lock.store.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { elapseServerTime, serverNow } from '../../support/server-clock.js';
import { scanKeys } from '../../support/scan-keys.js';
import { describeLockStoreContract, type LockStoreUnderTest } from './lock-store.contract.js';
import { describeLockStoreFencingContract } from './lock-store.contract-fencing.js';
import { describeLockStoreInspectContract } from './lock-store.contract-inspect.js';
import { describeLockStoreWakeupContract } from './lock-store.contract-wakeups.js';

/** A memory store on a ManualClock, or a Redis store on the connection of a booted module. */
async function storeFor(driver: DriverCase): Promise<LockStoreUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    return {
      store: new MemoryLockStore(clock),
      keys: new LockKeys(new KeyBuilder(uniquePrefix('lockstore'))),
      elapse: async (ms) => clock.advance(ms),
      now: async () => clock.now(),
      loseData: async () => new MemoryLockStore(clock),
      close: async () => undefined,
    };
  }
  const prefix = uniquePrefix('lockstore');
  const booted = await bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  const store = new RedisLockStore(connection);
  return {
    store,
    keys: new LockKeys(booted.core.keys),
    elapse: (ms) => elapseServerTime(connection, ms),
    now: () => serverNow(connection),
    loseData: async () => {
      // One DEL per key: on a cluster they live in different slots.
      for (const key of await scanKeys(booted.core, `${prefix}:*`)) await connection.client.del(key);
      return store;
    },
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('LockStore contract ($name)', (driver) => {
  describeLockStoreContract(() => storeFor(driver));
  describe('wake-ups', () => describeLockStoreWakeupContract(() => storeFor(driver)));
  describe('fencing', () => describeLockStoreFencingContract(() => storeFor(driver)));
  describe('inspect', () => describeLockStoreInspectContract(() => storeFor(driver)));
});
