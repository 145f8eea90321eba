import { ManualClock } from '@nest-coordination/core';
import { KeyBuilder } from '../../support/internals.js';
import { LockKeys } from '../../../libs/coordination/src/locks/lock-keys.js';
import { MemoryLockStore } from '../../../libs/coordination/src/locks/memory-lock.store.js';
import { RedisLockStore } from '../../../libs/coordination/src/locks/redis-lock.store.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { until } from '../../support/wait.js';
import { describeLockStoreContract, type LockStoreUnderTest } from './lock-store.contract.js';

/** A memory store on a ManualClock, or a Redis store on the connection of a booted module. */
async function storeFor(driver: DriverCase): Promise<LockStoreUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    return {
      store: new MemoryLockStore(clock),
      keys: new LockKeys(new KeyBuilder(uniquePrefix('lockstore'))),
      elapse: async (ms) => clock.advance(ms),
      close: async () => undefined,
    };
  }
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('lockstore'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  const serverNow = async () => {
    const [seconds, micros] = await connection.execute('time', (c) => c.time());
    return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
  };
  return {
    store: new RedisLockStore(connection),
    keys: new LockKeys(booted.core.keys),
    elapse: async (ms) => {
      const target = (await serverNow()) + ms;
      await until(async () => (await serverNow()) >= target, { timeoutMs: ms + 10_000, intervalMs: 10, message: `${ms} ms of Redis server time` });
    },
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('LockStore contract ($name)', (driver) => {
  describeLockStoreContract(() => storeFor(driver));
});
