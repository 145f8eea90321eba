import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Cluster, Redis } from 'ioredis';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import { testClusterNodes, testRedisUrl } from '../../../../test/harness/env.js';
import { startRedisServer, type RedisServerHandle } from '../../../../test/harness/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../../../../test/harness/tcp-proxy.js';
import { bootModule, type BootedModule } from '../../../../test/support/boot.js';
import { privateServerDriver, REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../../../../test/support/drivers.js';
import { rejectionOf, until } from '../../../../test/support/wait.js';
import { RedisStreamStore } from './redis-stream.store.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import { StreamKeys } from './stream-keys.js';
import type { StreamReader } from './stream-store.interface.js';

/** The reader's blocking connection (created at its first read), for what only its status tells. */
const blockingClientOf = (reader: StreamReader): RedisClient => (reader as unknown as { client: RedisClient }).client;

/** Runs a full garbage collection (V8's `gc`, exposed at run time). */
const collectGarbage = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** The value `promise` settles with (a rejection rethrown); fails naming `what` if it is still pending after `ms` (a read that hangs). */
async function settledWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined;
  promise.then((value) => (outcome = { value }), (error: unknown) => (outcome = { error }));
  await until(() => outcome !== undefined, { timeoutMs: ms, message: what });
  if ('error' in outcome!) throw outcome.error;
  return (outcome as { value: T }).value;
}

/** The server-side connections named `coord:<instanceId>:blocking`, on every master; `blocked`: only those in a blocking command. */
async function blockingConnections(booted: BootedModule, blocked = false): Promise<number> {
  const client = booted.core.connection!.client;
  const servers: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  const lists = await Promise.all(servers.map((server) => server.client('LIST') as Promise<string>));
  const name = `name=coord:${booted.core.instanceId}:blocking `;
  return lists.flatMap((list) => list.split('\n')).filter((line) => line.includes(name) && (!blocked || / flags=\w*b/.test(line))).length;
}

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

  it('keeps no reply of a settled read reachable (no read leaves a hook on the reader behind)', async () => {
    await s.store.ensureGroup(s.keys, 'g', 'earliest');
    const r = reader();
    expect(await r.readNew(s.keys, 'g', 'c1', 10, 50)).toEqual([]);
    const client = blockingClientOf(r) as unknown as { xreadgroup: (...args: unknown[]) => Promise<object | null> };
    const xreadgroup = client.xreadgroup.bind(client);
    const replies: Array<WeakRef<object>> = [];
    client.xreadgroup = (...args) => xreadgroup(...args).then((reply) => {
      if (reply) replies.push(new WeakRef(reply));
      return reply;
    });
    for (let i = 0; i < 3; i++) {
      await s.store.append(s.keys, `v${i}`, 0);
      expect(await r.readNew(s.keys, 'g', 'c1', 10, 5_000)).toHaveLength(1);
    }
    // A WeakRef holds its target until the job that created it has ended.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(replies.map((reply) => reply.deref() === undefined)).toEqual([true, true, true]);
  });

  it('close() of a blocked read leaves no connection of the reader on the server', async () => {
    await s.store.ensureGroup(s.keys, 'g', 'earliest');
    const r = s.store.openReader();
    const read = r.readNew(s.keys, 'g', 'c1', 10, 60_000);
    await until(() => blockingConnections(s.booted, true), { timeoutMs: 10_000, message: 'the read to block on the server' });
    await r.close();
    expect(await read).toEqual([]);
    expect(await blockingConnections(s.booted)).toBe(0);
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

  it('a read in flight fails at once when its connection is lost, and is not sent again; reads fail while Redis is down and work once it is back', async () => {
    booted = await bootModule({ ...privateServerDriver(server).options(), prefix: uniquePrefix('redisstream'), health: { pingIntervalMs: 0 } });
    const store = new RedisStreamStore(booted.core.connection!);
    const keys = new StreamKeys(booted.core.keys).of('acme', 'orders');
    await store.ensureGroup(keys, 'g', 'earliest');
    const r = store.openReader();
    try {
      expect(await r.readNew(keys, 'g', 'c1', 10, 50)).toEqual([]);
      const lostClient = blockingClientOf(r);
      // Blocks far longer than the test waits: only a read that fails when the connection goes settles in time.
      const inFlight = rejectionOf(r.readNew(keys, 'g', 'c1', 10, 60_000));
      await server.kill();
      const lost = await settledWithin(inFlight, 10_000, 'the read in flight to fail with its connection');
      expect(lost).toBeInstanceOf(RedisUnavailableError);
      expect((lost as RedisUnavailableError).operation).toBe('streams.consume');
      // Dropped with its connection, so that ioredis does not send it again after the reconnection.
      expect(blockingClientOf(r)).not.toBe(lostClient);
      const down = await rejectionOf(r.readNew(keys, 'g', 'c1', 10, 50));
      expect(down).toBeInstanceOf(RedisUnavailableError);
      expect((down as RedisUnavailableError).operation).toBe('streams.consume');
      await expect(store.append(keys, 'lost', 0)).rejects.toBeInstanceOf(RedisUnavailableError);
      await server.restart();
      await until(() => booted!.core.connection!.health().status === 'up', { timeoutMs: 10_000, message: 'the command connection back up' });
      // The restarted server lost its data, the group with it.
      await store.ensureGroup(keys, 'g', 'earliest');
      const id = await store.append(keys, 'back', 0);
      const got: string[] = [];
      await until(async () => {
        got.push(...(await r.readNew(keys, 'g', 'c1', 10, 200).catch(() => [])).map((e) => e.id)); // fails until its connection is back
        return got.includes(id);
      }, { timeoutMs: 10_000, message: 'a read to return the entry appended after the restart' });
      expect(got).toEqual([id]);
    } finally {
      await r.close();
    }
  });
});

describe.each(REDIS_DRIVERS)('RedisStreamStore on a client the user passed in ($name)', (driver) => {
  it('blocks as long as blockMs asks, whatever commandTimeout and retries the user gave their client', async () => {
    const client = driver.name === 'cluster'
      ? new Cluster(testClusterNodes(), { redisOptions: { commandTimeout: 300, maxRetriesPerRequest: 1 } })
      : new Redis(testRedisUrl(), { commandTimeout: 300, maxRetriesPerRequest: 1 });
    const booted = await bootModule({ connection: { client }, prefix: uniquePrefix('redisstream'), health: { pingIntervalMs: 0 } });
    const store = new RedisStreamStore(booted.core.connection!);
    const keys = new StreamKeys(booted.core.keys).of('acme', 'orders');
    const r = store.openReader();
    try {
      await store.ensureGroup(keys, 'g', 'earliest');
      expect(await r.readNew(keys, 'g', 'c1', 10, 1_500)).toEqual([]);
    } finally {
      await r.close();
      await booted.close();
      client.disconnect();
    }
  });
});

describe('RedisStreamStore on a half-dead connection (packets dropped, sockets open)', () => {
  const COMMAND_TIMEOUT_MS = 500;
  let proxy: TcpProxy;
  let booted: BootedModule;
  let store: RedisStreamStore;
  let reader: StreamReader;
  const keys = () => new StreamKeys(booted.core.keys).of('acme', 'orders');
  beforeAll(async () => {
    const { hostname, port } = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: hostname, port: Number(port || 6379) });
    booted = await bootModule({
      connection: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 2_000 },
      reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
      breaker: { failureThreshold: 10_000, openMs: 200 },
      prefix: uniquePrefix('redisstream'),
      health: { pingIntervalMs: 0 },
    });
    store = new RedisStreamStore(booted.core.connection!, { commandTimeoutMs: COMMAND_TIMEOUT_MS });
  });
  beforeEach(async () => {
    await until(() => booted.core.connection!.client.status === 'ready', { timeoutMs: 10_000, message: 'the command connection ready' });
    reader = store.openReader();
    await store.ensureGroup(keys(), 'g', 'earliest');
    expect(await reader.readNew(keys(), 'g', 'c1', 10, 50)).toEqual([]);
  });
  afterEach(async () => {
    proxy.restore();
    await reader.close();
  });
  afterAll(async () => {
    await booted.close();
    await proxy.close();
  });
  /** Once the proxy forwards again: reads until `id` arrives (a read may still fail while the connection comes back). */
  const readsAgain = async (id: string) => {
    const got: string[] = [];
    await until(async () => {
      got.push(...(await reader.readNew(keys(), 'g', 'c1', 10, 200).catch(() => [])).map((e) => e.id));
      return got.includes(id);
    }, { timeoutMs: 15_000, message: `a read to return ${id} once the link is back` });
  };
  const appendWhenBack = async (data: string) => {
    await until(() => booted.core.connection!.client.status === 'ready', { timeoutMs: 10_000, message: 'the command connection back' });
    return store.append(keys(), data, 0);
  };

  it('a read with no reply within blockMs + commandTimeoutMs rejects with RedisUnavailableError (streams.consume) and drops the connection', async () => {
    const frozenClient = blockingClientOf(reader);
    proxy.freeze();
    const error = await settledWithin(rejectionOf(reader.readNew(keys(), 'g', 'c1', 10, 500)), 15_000, 'the read on the frozen link to give up');
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).operation).toBe('streams.consume');
    // Dropped: the next read opens a new connection.
    await until(() => frozenClient.status === 'end', { timeoutMs: 10_000, message: () => `the frozen connection to end (status ${frozenClient.status})` });
    proxy.restore();
    await readsAgain(await appendWhenBack('back'));
  });

  it('rejects a read at once while its connection reconnects after a loss, instead of queueing it through the outage', async () => {
    const client = blockingClientOf(reader);
    // The connection is lost, and its reconnect hangs in the handshake (TCP up, no reply).
    proxy.cut();
    proxy.freeze();
    await until(() => client.status === 'connect', { timeoutMs: 10_000, message: () => `the reconnect to hang (status ${client.status})` });
    // Far longer than the wait below: only a read that is refused at once settles in time.
    const error = await settledWithin(rejectionOf(reader.readNew(keys(), 'g', 'c1', 10, 30_000)), 5_000, 'the read to be refused');
    expect(error).toBeInstanceOf(RedisUnavailableError);
    proxy.restore();
    await readsAgain(await appendWhenBack('back'));
  });
});
