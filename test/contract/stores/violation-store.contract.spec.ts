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
  if (driver.name === 'memory') {
    const store = new MemoryViolationStore(clock, limits);
    // The store keeps each log's last append privately; the contract reads it to compute the TTL.
    const logs = (store as unknown as { logs: Map<string, { appendedAt: number }> }).logs;
    return {
      store, clock, close: async () => undefined,
      logTtlMs: async (tenant) => {
        const log = logs.get(tenant);
        if (!log) return -2;
        const ttl = log.appendedAt + limits.retentionMs - clock.now();
        return ttl > 0 ? ttl : -2;
      },
      ageLog: async (_tenant, ms) => clock.advance(ms),
    };
  }
  const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
  const { connection, keys } = booted.core;
  // The log key as RedisViolationStore builds it.
  const logKey = (tenant: string) => keys.key(tenant, 'ratelimit-log', tenant);
  const pttl = (tenant: string) => connection!.execute('test', (client) => client.pttl(logKey(tenant)));
  return {
    store: new RedisViolationStore(connection!, keys, limits, clock), clock, close: () => booted.close(),
    logTtlMs: pttl,
    ageLog: async (tenant, ms) => {
      const ttl = await pttl(tenant);
      if (ttl <= ms) throw new Error(`cannot age the log of ${tenant} by ${ms} ms: its TTL is ${ttl}`);
      await connection!.execute('test', (client) => client.pexpire(logKey(tenant), ttl - ms));
    },
  };
}

describe.each(DRIVERS)('ViolationStore contract ($name)', (driver) => {
  describeViolationStoreContract((limits) => storeFor(driver, limits));
});
