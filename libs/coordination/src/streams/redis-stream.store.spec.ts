import { RedisUnavailableError } from '../errors/coordination.error.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import { startRedisServer, type RedisServerHandle } from '../../../../test/harness/redis-server.js';
import { bootModule, type BootedModule } from '../../../../test/support/boot.js';
import { privateServerDriver, REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../../../../test/support/drivers.js';
import { rejectionOf, until } from '../../../../test/support/wait.js';
import { RedisStreamStore } from './redis-stream.store.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import { StreamKeys } from './stream-keys.js';
import type { StreamReader } from './stream-store.interface.js';

/** The reader's blocking connection (created at its first read), for what only its status tells. */
const blockingClientOf = (reader: StreamReader): RedisClient => (reader as unknown as { client: RedisClient }).client;

async function storeOn(driver: DriverCase) {
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('redisstream'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  return { booted, connection, store: new RedisStreamStore(connection), keys: new StreamKeys(booted.core.keys).of('acme', 'orders') };
}

describe.each(REDIS_DRIVERS)('RedisStreamStore ($name)', (driver) => {
  let s: Awaited<ReturnType<typeof storeOn>>;
  let readers: StreamReader[] = [];
  beforeAll(async () => {
    s = await storeOn(driver);
  });
  afterEach(async () => {
    await Promise.all(readers.splice(0).map((r) => r.close()));
    await s.connection.execute('test.del', (c) => c.del(s.keys.stream, s.keys.dead));
  });
  afterAll(() => s.booted.close());
  const reader = () => {
    const r = s.store.openReader();
    readers.push(r);
    return r;
  };

  it('a read blocked when the stream key is deleted (FLUSHALL, DEL) rejects with StreamGroupMissingError; ensureGroup recovers', async () => {
    await s.store.ensureGroup(s.keys, 'g', 'earliest');
    const r = reader();
    expect(await r.readNew(s.keys, 'g', 'c1', 10, 50)).toEqual([]);
    const blocked = rejectionOf(r.readNew(s.keys, 'g', 'c1', 10, 20_000));
    // Deleted while the read blocks or just before it is sent: either way the group is missing.
    await s.connection.execute('test.del', (c) => c.del(s.keys.stream));
    expect(await blocked).toBeInstanceOf(StreamGroupMissingError);
    await s.store.ensureGroup(s.keys, 'g', 'earliest');
    const id = await s.store.append(s.keys, 'again', 0);
    expect(await r.readNew(s.keys, 'g', 'c1', 10, 1_000)).toEqual([{ id, data: 'again' }]);
  });

  it('a read blocked when its group is destroyed rejects with StreamGroupMissingError naming stream and group', async () => {
    await s.store.ensureGroup(s.keys, 'g', 'earliest');
    const r = reader();
    expect(await r.readNew(s.keys, 'g', 'c1', 10, 50)).toEqual([]);
    const blocked = rejectionOf(r.readNew(s.keys, 'g', 'c1', 10, 20_000));
    await s.connection.execute('test.xgroup', (c) => c.xgroup('DESTROY', s.keys.stream, 'g'));
    const error = await blocked;
    expect(error).toBeInstanceOf(StreamGroupMissingError);
    expect([(error as StreamGroupMissingError).stream, (error as StreamGroupMissingError).group]).toEqual([s.keys.stream, 'g']);
  });

  it('after the stream key is deleted, claim, ack, touch and fail reject with StreamGroupMissingError', async () => {
    await s.store.ensureGroup(s.keys, 'g', 'earliest');
    const id = await s.store.append(s.keys, 'v', 0);
    await reader().readNew(s.keys, 'g', 'c1', 10, 50);
    await s.connection.execute('test.del', (c) => c.del(s.keys.stream));
    const missing = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(StreamGroupMissingError);
    await missing(s.store.claim(s.keys, 'g', 'c1', { mode: 'own', after: '0-0', count: 10, maxDeliveries: 5, deadMaxLen: 0 }));
    await missing(s.store.ack(s.keys, 'g', [id]));
    await missing(s.store.touch(s.keys, 'g', 'c1', [id]));
    await missing(s.store.fail(s.keys, 'g', 'c1', id, 'boom', 5, 0));
    expect(await s.store.pending(s.keys, 'g')).toEqual({ count: 0, oldestId: null, newestId: null, consumers: {} });
    expect(await s.store.groups(s.keys)).toEqual([]);
  });
});

describe('RedisStreamStore while Redis is unreachable', () => {
  let server: RedisServerHandle;
  let booted: BootedModule | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await booted?.close();
    await server.stop();
  });

  it('reads fail with RedisUnavailableError (streams.consume) while the connection is down; a read in flight meets the restarted, empty server', async () => {
    booted = await bootModule({ ...privateServerDriver(server).options(), prefix: uniquePrefix('redisstream'), health: { pingIntervalMs: 0 } });
    const store = new RedisStreamStore(booted.core.connection!);
    const keys = new StreamKeys(booted.core.keys).of('acme', 'orders');
    await store.ensureGroup(keys, 'g', 'earliest');
    const r = store.openReader();
    try {
      expect(await r.readNew(keys, 'g', 'c1', 10, 50)).toEqual([]);
      const inFlight = rejectionOf(r.readNew(keys, 'g', 'c1', 10, 20_000));
      await server.kill();
      await until(() => blockingClientOf(r).status === 'reconnecting', { timeoutMs: 10_000, message: 'the blocking connection to notice the kill' });
      const down = await rejectionOf(r.readNew(keys, 'g', 'c1', 10, 50));
      expect(down).toBeInstanceOf(RedisUnavailableError);
      expect((down as RedisUnavailableError).operation).toBe('streams.consume');
      await expect(store.append(keys, 'lost', 0)).rejects.toBeInstanceOf(RedisUnavailableError);
      await server.restart();
      // The read is sent again on the new connection; the server lost its data, and the group with it.
      expect(await inFlight).toBeInstanceOf(StreamGroupMissingError);
      await until(() => booted!.core.connection!.health().status === 'up', { timeoutMs: 10_000, message: 'the command connection back up' });
      await store.ensureGroup(keys, 'g', 'earliest');
      const id = await store.append(keys, 'back', 0);
      expect(await r.readNew(keys, 'g', 'c1', 10, 1_000)).toEqual([{ id, data: 'back' }]);
    } finally {
      await r.close();
    }
  });
});
