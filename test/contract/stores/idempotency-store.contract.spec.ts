import { ManualClock } from '@nest-coordination/core';
import { MemoryIdempotencyStore } from '../../../libs/coordination/src/idempotency/memory-idempotency.store.js';
import { RedisIdempotencyStore } from '../../../libs/coordination/src/idempotency/redis-idempotency.store.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { KeyBuilder } from '../../support/internals.js';
import { elapseServerTime, serverNow } from '../../support/server-clock.js';
import { describeIdempotencyStoreContract, type IdempotencyStoreUnderTest } from './idempotency-store.contract.js';

/** A memory store on a ManualClock, or a Redis store on the connection of a booted module (its own prefix). */
async function storeFor(driver: DriverCase): Promise<IdempotencyStoreUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemoryIdempotencyStore(clock);
    // The memory store's records, read for `expiryOf` (what PEXPIRETIME tells on Redis).
    const records = (store as unknown as { records: Map<string, { expiresAt: number }> }).records;
    return {
      store,
      builder: new KeyBuilder(uniquePrefix('idemstore')),
      now: async () => clock.now(),
      elapse: async (ms) => clock.advance(ms),
      expiryOf: async (key) => {
        const expiresAt = records.get(key)?.expiresAt;
        return expiresAt === undefined || expiresAt <= clock.now() ? null : expiresAt;
      },
      close: async () => undefined,
    };
  }
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('idemstore'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  return {
    store: new RedisIdempotencyStore(connection),
    builder: booted.core.keys,
    now: () => serverNow(connection),
    elapse: (ms) => elapseServerTime(connection, ms),
    expiryOf: async (key) => {
      const at = await connection.execute('test.pexpiretime', (c) => c.pexpiretime(key));
      return at === -2 ? null : at === -1 ? Infinity : at;
    },
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('IdempotencyStore contract ($name)', (driver) => {
  describeIdempotencyStoreContract(() => storeFor(driver), { exactClock: driver.name === 'memory' });
});

// The record layout on Redis (the scripts' headers), which the contract cannot see.
describe.each(REDIS_DRIVERS)('RedisIdempotencyStore record layout ($name)', (driver) => {
  it('is one hash { state, fp, owner } in flight, gaining the outcome when done', async () => {
    const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('idemlayout'), health: { pingIntervalMs: 0 } });
    try {
      const store = new RedisIdempotencyStore(booted.core.connection!);
      const key = booted.core.keys.key('acme', 'idempotency', 'u:ada\nkey-1');
      const client = booted.core.connection!.client;
      await store.begin(key, 'fp', 'owner-1', 60_000);
      expect(await client.type(key)).toBe('hash');
      expect(await client.hgetall(key)).toEqual({ state: 'running', fp: 'fp', owner: 'owner-1' });
      await store.complete(key, 'owner-1', 'out', 120_000);
      expect(await client.hgetall(key)).toEqual({ state: 'done', fp: 'fp', owner: 'owner-1', outcome: 'out' });
      expect(await client.pttl(key)).toBeGreaterThan(60_000);
    } finally {
      await booted.close();
    }
  });
});
