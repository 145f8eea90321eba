import { ManualClock } from '@nest-coordination/core';
import type { Cluster } from 'ioredis';
import { MemorySessionStore } from '../../../libs/coordination/src/sessions/memory-session.store.js';
import { RedisSessionStore } from '../../../libs/coordination/src/sessions/redis-session.store.js';
import { SessionKeys } from '../../../libs/coordination/src/sessions/session-keys.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { KeyBuilder } from '../../support/internals.js';
import { elapseServerTime, serverNow } from '../../support/server-clock.js';
import { describeSessionStoreContract, type SessionStoreUnderTest } from './session-store.contract.js';

/** A memory store on a ManualClock, or a Redis store on the connection of a booted module (its own prefix). */
async function storeFor(driver: DriverCase): Promise<SessionStoreUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemorySessionStore(clock);
    const builder = new KeyBuilder(uniquePrefix('sessionstore'));
    // The memory store's keyspace, read for `expiryOf` (what PEXPIRETIME tells on Redis).
    const held = (store as unknown as { held: Map<string, { expiresAt: number }> }).held;
    return {
      store,
      keys: new SessionKeys(builder),
      builder,
      now: async () => clock.now(),
      elapse: async (ms) => clock.advance(ms),
      expiryOf: async (key) => {
        const expiresAt = held.get(key)?.expiresAt;
        return expiresAt === undefined || expiresAt <= clock.now() ? null : expiresAt;
      },
      masters: 1,
      mastersHolding: async (keys) => (keys.length > 0 ? 1 : 0),
      close: async () => undefined,
    };
  }
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('sessionstore'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  const cluster = driver.name === 'cluster' ? (connection.client as Cluster) : undefined;
  return {
    store: new RedisSessionStore(connection),
    keys: new SessionKeys(booted.core.keys),
    builder: booted.core.keys,
    now: () => serverNow(connection),
    elapse: (ms) => elapseServerTime(connection, ms),
    expiryOf: async (key) => {
      const at = await connection.execute('test.pexpiretime', (c) => c.pexpiretime(key));
      return at === -2 ? null : at === -1 ? Infinity : at;
    },
    masters: cluster ? cluster.nodes('master').length : 1,
    mastersHolding: async (keys) => {
      if (!cluster) return keys.length > 0 ? 1 : 0;
      const slots = await Promise.all(keys.map((key) => cluster.cluster('KEYSLOT', key)));
      return new Set(slots.map((slot) => cluster.slots[slot][0])).size;
    },
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('SessionStore contract ($name)', (driver) => {
  describeSessionStoreContract(() => storeFor(driver), { exactClock: driver.name === 'memory' });
});
