import { ManualClock } from '@nest-coordination/core';
import { MemoryThrottlerStore } from '../../libs/coordination/src/rate-limit/throttler/memory-throttler.store.js';
import { RedisThrottlerStore } from '../../libs/coordination/src/rate-limit/throttler/redis-throttler.store.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { describeThrottlerStoreContract, type ThrottlerStoreUnderTest } from './throttler-store.contract.js';

/** A store of `driver` deciding on a fresh ManualClock; Redis stores get the connection of a booted module. */
async function storeFor(driver: DriverCase): Promise<ThrottlerStoreUnderTest> {
  const clock = new ManualClock(1_700_000_000_000);
  if (driver.name === 'memory') return { store: new MemoryThrottlerStore(clock), clock, close: async () => undefined };
  const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
  return { store: new RedisThrottlerStore(booted.core.connection!, clock), clock, close: () => booted.close() };
}

describe.each(DRIVERS)('ThrottlerStore contract ($name)', (driver) => {
  describeThrottlerStoreContract(() => storeFor(driver));
});

// Without an injected clock the script reads the server's: TIME for a new key, then the key's
// own expiry (PTTL). Time must pass for it as for Redis.
describe.each(REDIS_DRIVERS)('RedisThrottlerStore on the server clock ($name)', (driver) => {
  let booted: BootedModule;
  let store: RedisThrottlerStore;
  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
    store = new RedisThrottlerStore(booted.core.connection!);
  });
  afterAll(() => booted.close());

  it('reports the window from the first hit and counts every hit', async () => {
    const key = `${uniquePrefix('thrc')}:{k}`;
    expect(await store.increment(key, 60_000, 10, 60_000)).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0, source: 'redis' });
    const second = await store.increment(key, 60_000, 10, 60_000);
    expect(second.totalHits).toBe(2);
    expect([59, 60]).toContain(second.timeToExpire);
  });

  it('lets a refused client through once its oldest hit expired on the server clock', async () => {
    const key = `${uniquePrefix('thrc')}:{k}`;
    const refused = await until(async () => {
      const r = await store.increment(key, 1_000, 1, 0);
      return r.isBlocked && r;
    }, { timeoutMs: 10_000, intervalMs: 0, message: 'a second hit within the ttl to be refused' });
    expect(refused).toMatchObject({ totalHits: 2, timeToBlockExpire: 1 });
    const passed = await until(async () => {
      const r = await store.increment(key, 1_000, 1, 0);
      return !r.isBlocked && r;
    }, { timeoutMs: 10_000, message: 'the hit to expire and the next to pass' });
    expect(passed.totalHits).toBe(1);
  });
});
