import { ManualClock } from '@nest-coordination/core';
import { MemoryViolationStore } from '../../../libs/coordination/src/rate-limit/memory-violation.store.js';
import { RedisViolationStore } from '../../../libs/coordination/src/rate-limit/redis-violation.store.js';
import type { ViolationLogLimits } from '../../../libs/coordination/src/rate-limit/violation-store.interface.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, type DriverCase } from '../../support/drivers.js';
import { describeViolationStoreContract, type ViolationStoreUnderTest } from './violation-store.contract.js';

/** A store of `driver` whose alert windows follow a fresh ManualClock; Redis stores get the connection and keys of a booted module. */
async function storeFor(driver: DriverCase, limits: ViolationLogLimits): Promise<ViolationStoreUnderTest> {
  const clock = new ManualClock(1_700_000_000_000);
  if (driver.name === 'memory') return { store: new MemoryViolationStore(clock, limits), clock, close: async () => undefined };
  const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
  const { connection, keys } = booted.core;
  return { store: new RedisViolationStore(connection!, keys, limits, clock), clock, close: () => booted.close() };
}

describe.each(DRIVERS)('ViolationStore contract ($name)', (driver) => {
  describeViolationStoreContract((limits) => storeFor(driver, limits));
});
