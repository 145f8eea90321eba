import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { nextEvent, rejectionOf, sleep, until } from '../support/wait.js';
import { testClusterNodes, testRedisUrl } from './env.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';
import { connectionName, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const run = randomUUID();
const clients: (Redis | Cluster)[] = [];
const sockets: Socket[] = [];

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

/** A RESP command as the bytes a client sends. */
function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/**
 * A bare TCP client of the proxy speaking RESP by hand, named with CLIENT SETNAME when `name` is
 * given: what arrives and how the connection ended are seen as the bytes and socket events,
 * with no client library in between (which would retry, reconnect or match replies to commands).
 */
async function rawClient(port: number, name?: string) {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  let error: string | undefined;
  let closed = false;
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  socket.on('close', () => (closed = true));
  sockets.push(socket);
  const lines = () => received.split('\r\n').filter((line) => line !== '');
  /** Reply lines already returned by request(). */
  let taken = 0;
  const send = (...args: string[]) => void socket.write(resp(...args));
  const client = {
    send,
    /** Sends a command and returns its reply line (simple replies only: +OK, +PONG). */
    async request(...args: string[]): Promise<string> {
      send(...args);
      await until(() => lines().length > taken, { timeoutMs: 5_000, message: `a reply to ${args.join(' ')}` });
      taken += 1;
      return lines()[taken - 1];
    },
    /** Reply lines that arrived and no request() returned. */
    replies: () => lines().slice(taken),
    closed: () => closed,
    /** The socket's error code, if it ended with one. */
    error: () => error,
  };
  await nextEvent(socket, 'connect', { timeoutMs: 5_000, message: 'a TCP connection to the proxy' });
  if (name) expect(await client.request('CLIENT', 'SETNAME', name)).toBe('+OK');
  return client;
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
  for (const socket of sockets.splice(0)) socket.destroy();
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

    let closes = 0;
    redis.on('close', () => (closes += 1));
    proxy.cut(); // a reset: ioredis emits 'error' (ECONNRESET), then 'close'
    await until(() => closes > 0, { timeoutMs: 5_000, message: 'the client to see its connection cut' });
    await expect(redis.ping()).rejects.toThrow();

    const ready = nextEvent(redis, 'ready', { timeoutMs: 5_000, message: 'the client to reconnect after restore()' });
    proxy.restore();
    await ready;
    expect(await redis.ping()).toBe('PONG');
  });
});

describe('tcp proxy faults on some connections', () => {
  let proxy: TcpProxy;

  beforeEach(async () => {
    const { hostname, port } = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: hostname, port: Number(port || 6379) });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await proxy?.close();
  });

  /** Resolves once `redis` answers a PING (polled: a connection reset by a fault may report its error late). */
  async function answers(redis: Redis, message: string): Promise<void> {
    await until(async () => (await redis.ping().catch(() => '')) === 'PONG', { timeoutMs: 5_000, message });
  }

  /** A client through the proxy named as the module names its connections, once ready. */
  async function named(instanceId: string, role: string, options: RedisOptions = {}): Promise<Redis> {
    const redis = client(proxy.port, { connectionName: `coord:${instanceId}:${role}`, ...options });
    await nextEvent(redis, 'ready', { timeoutMs: 5_000, message: `coord:${instanceId}:${role} to be ready through the proxy` });
    return redis;
  }

  it('reads the name ioredis gives at connect (CLIENT SETNAME after HELLO), or HELLO ... SETNAME', () => {
    const resp = (...commands: string[][]) =>
      Buffer.from(commands.map((args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`).join(''));
    const hello = ['hello', '3'];
    expect(connectionName(resp(hello, ['select', '2'], ['client', 'setname', 'coord:i-1:subscriber']))).toBe('coord:i-1:subscriber');
    expect(connectionName(resp(['HELLO', '3', 'AUTH', 'u', 'p', 'SETNAME', 'coord:i:command']))).toBe('coord:i:command');
    // Not named (yet): the handshake so far, or a part of a command.
    expect(connectionName(resp(hello))).toBeUndefined();
    expect(connectionName(resp(hello).subarray(0, 7))).toBeUndefined();
    // A real command first, or bytes that are not RESP: no name.
    expect(connectionName(resp(hello, ['client', 'setinfo', 'LIB-NAME', 'x'], ['info']))).toBeNull();
    expect(connectionName(Buffer.from('PING\r\n'))).toBeNull();
  });

  it('cut({ role }) resets only that role\'s connections and refuses its reconnects until restore()', async () => {
    const command = await named('a', 'command', { enableOfflineQueue: false });
    const subscriber = await named('a', 'subscriber');
    const other = await named('b', 'command');
    expect(proxy.connections().sort()).toEqual(['coord:a:command', 'coord:a:subscriber', 'coord:b:command']);

    let attempts = 0;
    command.on('reconnecting', () => (attempts += 1));
    proxy.cut({ role: 'command', instanceId: 'a' });
    // Reconnects of the cut connection are reset once they name themselves, again and again.
    await until(() => attempts >= 3, { timeoutMs: 5_000, message: 'three reconnect attempts of the cut connection' });
    await expect(command.ping()).rejects.toThrow();
    // The rest pass, new connections included.
    expect(await subscriber.ping()).toBe('PONG');
    expect(await other.ping()).toBe('PONG');
    expect(await (await named('a', 'blocking')).ping()).toBe('PONG');
    expect(command.status).not.toBe('ready');

    proxy.restore();
    // Polled, not awaited as an event: a reconnect reset just before restore() reports its error late.
    await answers(command, 'the command connection to reconnect after restore()');
  });

  it('cut({ instanceId }) cuts every connection of that instance and none of another', async () => {
    const [commandA, subscriberA, commandB] = [await named('a', 'command'), await named('a', 'subscriber'), await named('b', 'command')];
    const closes = [0, 0];
    [commandA, subscriberA].forEach((c, i) => c.on('close', () => (closes[i] += 1)));
    proxy.cut({ instanceId: 'a' });
    await until(() => closes.every((n) => n > 0), { timeoutMs: 5_000, message: 'both instance-a connections to be cut' });
    expect(await commandB.ping()).toBe('PONG');
    proxy.restore();
    await answers(commandA, "instance a's command connection to reconnect");
    await answers(subscriberA, "instance a's subscriber to reconnect");
  });

  it('freeze({ role }) leaves that role\'s connections open and silent, the others answering; restore() resets them', async () => {
    const subscriber = await named('a', 'subscriber', { commandTimeout: 200 });
    const command = await named('a', 'command');
    let closes = 0;
    subscriber.on('close', () => (closes += 1));

    proxy.freeze({ role: 'subscriber' });
    expect(String(await rejectionOf(subscriber.ping()))).toMatch(/timed out/i);
    expect(closes).toBe(0); // no reset, no FIN: a dead link
    expect(await command.ping()).toBe('PONG');
    // A new connection of the frozen role is held: never ready, never refused.
    const late = client(proxy.port, { connectionName: 'coord:c:subscriber', commandTimeout: 200 });
    expect(String(await rejectionOf(late.ping()))).toMatch(/timed out/i);
    expect(late.status).not.toBe('ready');

    proxy.restore();
    await until(() => closes > 0, { timeoutMs: 5_000, message: 'the frozen connection to be reset at restore()' });
    await answers(subscriber, 'the frozen connection to reconnect');
    await answers(late, 'the held connection to get through after restore()');
  });

  it('lets a client that gives no name through while a fault with a selector is in force', async () => {
    proxy.cut({ role: 'command' });
    const plain = client(proxy.port);
    await nextEvent(plain, 'ready', { timeoutMs: 5_000, message: 'an unnamed client to be ready' });
    expect(await plain.ping()).toBe('PONG');
    expect(proxy.connections()).toEqual([undefined]);
  });

  it('delay(ms) forwards every byte, in order, ms late: commands time out if their timeout is shorter, nothing is lost', async () => {
    const impatient = await named('a', 'command', { commandTimeout: 100 });
    const patient = await named('a', 'command');
    const other = await named('b', 'command');
    const key = `harness:${run}:delay`;

    proxy.delay(400, { instanceId: 'a' });
    const replies = Promise.all(Array.from({ length: 20 }, () => patient.incr(key)));
    // Not a timing assertion: a reply 2 x 400 ms late cannot beat a 100 ms timeout.
    expect(String(await rejectionOf(impatient.ping()))).toMatch(/timed out/i);
    expect(await other.ping()).toBe('PONG'); // another instance is not delayed
    proxy.restore();
    // Sent while delayed, answered after restore(): all of them, in order.
    expect(await replies).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // The late reply to the timed-out PING did not break the connection (polled: each try has
    // only 100 ms, which a loaded machine may miss).
    await answers(impatient, 'the impatient client to answer after restore()');
    await patient.del(key);
  });

  it('a frozen connection stays frozen under a later delay() that matches it, until restore() resets it (its bytes were lost)', async () => {
    const frozen = await rawClient(proxy.port, 'coord:a:subscriber');
    const delayed = await rawClient(proxy.port, 'coord:a:command');
    expect(await frozen.request('PING')).toBe('+PONG');

    proxy.freeze({ role: 'subscriber' });
    frozen.send('PING'); // dropped: the link lost it
    expect(await delayed.request('PING')).toBe('+PONG'); // (a round trip through the proxy meanwhile)
    proxy.delay(50, { instanceId: 'a' });
    expect(await delayed.request('PING')).toBe('+PONG'); // the delay applies to the other connection
    frozen.send('PING');
    // Proving that nothing comes: 10 x the delay, which a forwarded PING would have taken.
    await sleep(500);
    expect(frozen.replies()).toEqual([]);
    expect(frozen.closed()).toBe(false);

    proxy.restore();
    await until(() => frozen.closed(), { timeoutMs: 5_000, message: 'the frozen connection to be reset at restore()' });
    expect(frozen.replies()).toEqual([]);
  });

  it('cut() resets the connections it ends (ECONNRESET, not a FIN), with a selector or without', async () => {
    const cutOff = await rawClient(proxy.port, 'coord:a:command');
    const spared = await rawClient(proxy.port, 'coord:b:command');
    const plain = await rawClient(proxy.port);
    proxy.cut({ instanceId: 'a' });
    await until(() => cutOff.closed(), { timeoutMs: 5_000, message: 'the cut connection to close' });
    expect(cutOff.error()).toBe('ECONNRESET');
    expect(await spared.request('PING')).toBe('+PONG');

    proxy.cut();
    await until(() => plain.closed() && spared.closed(), { timeoutMs: 5_000, message: 'every connection to close' });
    expect([plain.error(), spared.error()]).toEqual(['ECONNRESET', 'ECONNRESET']);
  });
});
