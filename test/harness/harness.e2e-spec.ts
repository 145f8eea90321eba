import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { nextEvent } from '../support/wait.js';
import { testClusterNodes, testRedisUrl } from './env.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const run = randomUUID();
const clients: (Redis | Cluster)[] = [];

/** A client that fails fast instead of queueing, so a fault shows up as an error. */
function client(target: string | number, options: RedisOptions = {}): Redis {
  const redis =
    typeof target === 'string'
      ? new Redis(target, { maxRetriesPerRequest: 0, retryStrategy: () => 50, ...options })
      : new Redis({ host: '127.0.0.1', port: target, maxRetriesPerRequest: 0, retryStrategy: () => 50, ...options });
  redis.on('error', () => {}); // faults are expected; keep ioredis from logging them
  clients.push(redis);
  return redis;
}

/** The error code of a plain TCP connection attempt, or 'connected'. */
function tcpConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

// Disconnect while the servers are still up: an ioredis client disconnected while
// reconnecting leaves a 2 s timer behind.
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

describe('shared standalone server', () => {
  it('answers PING and SET/GET', async () => {
    const redis = client(testRedisUrl());
    expect(await redis.ping()).toBe('PONG');
    const key = `harness:${run}:standalone`;
    await redis.set(key, 'v', 'EX', 60);
    expect(await redis.get(key)).toBe('v');
    await redis.del(key);
  });
});

describe('shared cluster', () => {
  it('reports cluster_state:ok on every node', async () => {
    const nodes = testClusterNodes();
    expect(nodes).toHaveLength(3);
    for (const node of nodes) {
      const info = (await client(`redis://${node.host}:${node.port}`).call('CLUSTER', 'INFO')) as string;
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_assigned:16384');
    }
  });

  it('serves keys on different slots through a Cluster client', async () => {
    const cluster = new Cluster(testClusterNodes());
    clients.push(cluster);
    // Fixed hash tags land on fixed slots, spread over all three masters.
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'].map((tag) => `harness:${run}:{${tag}}`);
    for (const key of keys) await cluster.set(key, key, 'EX', 60);
    for (const key of keys) expect(await cluster.get(key)).toBe(key);

    const owners = new Set<string>();
    for (const key of keys) {
      for (const node of cluster.nodes('master')) {
        // A master that does not own the slot answers MOVED.
        if ((await node.exists(key).catch(() => 0)) === 1) owners.add(`${node.options.port}`);
      }
    }
    expect(owners.size).toBeGreaterThan(1);
    await Promise.all(keys.map((key) => cluster.del(key)));
  });
});

describe('private server faults', () => {
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('refuses connections once killed and answers again after restart() on the same port', async () => {
    const port = server.port;
    const oldPid = server.pid;
    await server.kill();

    expect(await tcpConnect(port)).toBe('ECONNREFUSED');

    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(oldPid);
    expect(await client(port).ping()).toBe('PONG');
  });

  it('times out while paused and answers after resume()', async () => {
    const redis = client(server.port, { commandTimeout: 300 });
    expect(await redis.ping()).toBe('PONG');

    server.pause();
    try {
      await expect(redis.ping()).rejects.toThrow(/timed out/i);
    } finally {
      server.resume();
    }
    expect(await redis.ping()).toBe('PONG');
  });
});

describe('tcp proxy', () => {
  let proxy: TcpProxy;

  beforeAll(async () => {
    const { hostname, port } = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: hostname, port: Number(port || 6379) });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('passes traffic, breaks it on cut() and lets a reconnect work after restore()', async () => {
    const redis = client(proxy.port, { enableOfflineQueue: false });
    await nextEvent(redis, 'ready', { timeoutMs: 5_000, message: 'the client through the proxy to be ready' });
    expect(await redis.ping()).toBe('PONG');

    const closed = nextEvent(redis, 'close', { timeoutMs: 5_000, message: 'the client to see its connection cut' });
    proxy.cut();
    await closed;
    await expect(redis.ping()).rejects.toThrow();

    const ready = nextEvent(redis, 'ready', { timeoutMs: 5_000, message: 'the client to reconnect after restore()' });
    proxy.restore();
    await ready;
    expect(await redis.ping()).toBe('PONG');
  });
});
