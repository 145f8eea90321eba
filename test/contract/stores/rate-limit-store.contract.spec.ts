import { ManualClock } from '@nest-coordination/core';
import { MemoryRateLimitStore } from '../../../libs/coordination/src/rate-limit/memory-rate-limit.store.js';
import { RedisRateLimitStore } from '../../../libs/coordination/src/rate-limit/redis-rate-limit.store.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, type DriverCase } from '../../support/drivers.js';
import { describeRateLimitStoreContract, type RateLimitStoreUnderTest } from './rate-limit-store.contract.js';

/** A store of `driver` deciding on a fresh ManualClock; Redis stores get the connection of a booted module. */
async function storeFor(driver: DriverCase): Promise<RateLimitStoreUnderTest> {
  const clock = new ManualClock(1_700_000_000_000);
  if (driver.name === 'memory') return { store: new MemoryRateLimitStore(clock), clock, close: async () => undefined };
  const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
  return { store: new RedisRateLimitStore(booted.core.connection!, clock), clock, close: () => booted.close() };
}

describe.each(DRIVERS)('RateLimitStore contract ($name)', (driver) => {
  describeRateLimitStoreContract(() => storeFor(driver));
});
