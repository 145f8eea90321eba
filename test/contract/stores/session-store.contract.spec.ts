import { ManualClock } from '@nest-coordination/core';
import type { Cluster } from 'ioredis';
import { MemorySessionStore } from '../../../libs/coordination/src/sessions/memory-session.store.js';
import { RedisSessionStore } from '../../../libs/coordination/src/sessions/redis-session.store.js';
import { SessionKeys } from '../../../libs/coordination/src/sessions/session-keys.js';
import { bootModule } from '../../support/boot.js';
import { clusterLayout } from '../../support/cluster-layout.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { KeyBuilder } from '../../support/internals.js';
import { elapseServerTime, serverNow } from '../../support/server-clock.js';
import { describeSessionStoreContract, type SessionStoreUnderTest } from './session-store.contract.js';

/** How long an index outlives its sessions' absolute expiry in this suite (the capability passes at least a minute). */
const INDEX_GRACE_MS = 45_000;

/** A memory store on a ManualClock, or a Redis store on the connection of a booted module (its own prefix). */
async function storeFor(driver: DriverCase): Promise<SessionStoreUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemorySessionStore(clock, { indexGraceMs: INDEX_GRACE_MS });
    const builder = new KeyBuilder(uniquePrefix('sessionstore'));
    // The memory store's keyspace, read for `expiryOf` (what PEXPIRETIME tells on Redis).
    const held = (store as unknown as { held: Map<string, { expiresAt: number }> }).held;
    return {
      store,
      keys: new SessionKeys(builder),
      builder,
      indexGraceMs: INDEX_GRACE_MS,
      now: async () => clock.now(),
      elapse: async (ms) => clock.advance(ms),
      expiryOf: async (key) => {
        const expiresAt = held.get(key)?.expiresAt;
        return expiresAt === undefined || expiresAt <= clock.now() ? null : expiresAt;
      },
      ...clusterLayout(undefined),
      close: async () => undefined,
    };
  }
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('sessionstore'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  return {
    store: new RedisSessionStore(connection, { indexGraceMs: INDEX_GRACE_MS }),
    keys: new SessionKeys(booted.core.keys),
    builder: booted.core.keys,
    indexGraceMs: INDEX_GRACE_MS,
    now: () => serverNow(connection),
    elapse: (ms) => elapseServerTime(connection, ms),
    expiryOf: async (key) => {
      const at = await connection.execute('test.pexpiretime', (c) => c.pexpiretime(key));
      return at === -2 ? null : at === -1 ? Infinity : at;
    },
    ...clusterLayout(driver.name === 'cluster' ? (connection.client as Cluster) : undefined),
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('SessionStore contract ($name)', (driver) => {
  describeSessionStoreContract(() => storeFor(driver), { exactClock: driver.name === 'memory' });
});

// The layout of a record on Redis (lua/include/session-record.lua), which the contract cannot see.
describe.each(REDIS_DRIVERS)('RedisSessionStore record layout ($name)', (driver) => {
  it('is one string: the format, l e x t i v zero-padded, then the JSON of the other fields; a touch rewrites l and e in place', async () => {
    const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('sessionlayout'), health: { pingIntervalMs: 0 } });
    try {
      const store = new RedisSessionStore(booted.core.connection!, { indexGraceMs: INDEX_GRACE_MS });
      const keys = new SessionKeys(booted.core.keys);
      const user = keys.user('acme', 'ada');
      const { member } = keys.newId('acme', 'ada');
      const key = user.sessionPrefix + member;
      const created = await store.create({ ...user, member, fields: { u: 'ada', m: '{"ua":"x/y"}', 'd:a': '1' }, idleTtlMs: 60_000, absoluteTtlMs: 300_000, maxPerUser: 0, onLimit: 'reject' });
      if (!created.created) throw new Error('not created');
      const client = booted.core.connection!.client;
      const header = (f: Record<string, string>, names: string, widths: number[]) => [...names].map((n, i) => f[n].padStart(widths[i], '0')).join('');
      expect(await client.type(key)).toBe('string');
      const raw = (await client.get(key))!;
      expect(raw).toBe(`1${header(created.fields, 'lext', [13, 13, 13, 13])}${header(created.fields, 'iv', [11, 10])}{"u":"ada","m":"{\\"ua\\":\\"x/y\\"}","d:a":"1"}`);
      await elapseServerTime(booted.core.connection!, 2); // a touch later on the server clock: a different l
      const touched = (await store.read(key, true))!;
      const after = (await client.get(key))!;
      expect(after).toBe(`1${header(touched, 'le', [13, 13])}${raw.slice(27)}`);
      expect(touched.l).not.toBe(created.fields.l);
    } finally {
      await booted.close();
    }
  });
});
