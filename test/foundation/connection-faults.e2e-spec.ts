import 'reflect-metadata';
// Fault tests on private redis-servers this file starts, kills, pauses and restarts.
import { CircuitOpenError, RedisUnavailableError, type ConnectionHealth } from '@nest-coordination/core';
import { sendCommand, startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { rejectionOf, sleep, until } from '../support/wait.js';

describe('shutdown while the server is gone', () => {
  it('stops reconnecting: no connection of the closed app comes back when the server does', async () => {
    const server = await startRedisServer();
    try {
      const app = await bootModule({ connection: { url: server.url }, reconnect: { baseDelayMs: 20, maxDelayMs: 100 } });
      const connection = app.core.connection!;
      const subscriber = connection.subscriber();
      await until(() => subscriber.status === 'ready', { timeoutMs: 15_000, message: 'subscriber ready' });
      const ours = `coord:${app.core.instanceId}:`;
      expect(await sendCommand(server, ['CLIENT', 'LIST'])).toContain(ours);

      await server.kill();
      await until(() => connection.client.status !== 'ready', { timeoutMs: 15_000, message: 'command connection lost' });
      await app.close();
      await server.restart();
      // ioredis leaves a client disconnected while `reconnecting` in that status (it has no
      // socket and no timer left), so the proof is that nothing reconnects: wait several
      // reconnect delays (maxDelayMs is 100) and look at the server's client list.
      await sleep(1_000);
      expect(await sendCommand(server, ['CLIENT', 'LIST'])).not.toContain(ours);
      for (const client of [connection.client, subscriber]) expect(client.status).not.toBe('ready');
    } finally {
      await server.stop();
    }
  });
});

describe('reconnection after the server dies', () => {
  let server: RedisServerHandle;
  let app: BootedModule | undefined;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('goes down, fails fast with RedisUnavailableError, then comes back up on restart and resumes', async () => {
    app = await bootModule({
      connection: { url: server.url },
      reconnect: { baseDelayMs: 20, maxDelayMs: 200 },
      health: { pingIntervalMs: 100 },
      // Kept out of the way here: the breaker has its own test below.
      breaker: { failureThreshold: 10_000, openMs: 1_000 },
    });
    const connection = app.core.connection!;
    const seen: ConnectionHealth['status'][] = [];
    connection.onHealthChange((health) => seen.push(health.status));
    const key = app.core.keys.key('acme', 'probe', 'reconnect');
    await connection.execute('set', (c) => c.set(key, 'before'));
    expect(connection.health().status).toBe('up');
    const reconnectsBefore = connection.health().reconnectCount;

    await server.kill();
    await until(() => connection.health().status === 'down', { timeoutMs: 15_000, message: 'health down' });
    const error = await rejectionOf(connection.execute('get', (c) => c.get(key)));
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).code).toBe('E_REDIS_UNAVAILABLE');
    expect(connection.health()).toMatchObject({ lastError: expect.any(String), lastErrorAt: expect.any(Date) });

    await server.restart();
    await until(() => connection.health().status === 'up', { timeoutMs: 15_000, message: 'health up' });
    expect(seen).toContain('down');
    expect(seen.at(-1)).toBe('up');
    expect(connection.health().reconnectCount).toBeGreaterThan(reconnectsBefore);
    // A killed server loses its data (no persistence): the write after restart is what we read.
    await connection.execute('set', (c) => c.set(key, 'after'));
    expect(await connection.execute('get', (c) => c.get(key))).toBe('after');
  });
});

describe('a server that is down at boot', () => {
  let server: RedisServerHandle | undefined;
  let app: BootedModule | undefined;

  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('lets the app start degraded, fails commands with RedisUnavailableError, and connects once the server appears', async () => {
    const placeholder = await startRedisServer();
    const port = placeholder.port;
    await placeholder.stop();

    app = await bootModule({
      connection: { url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 },
      reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
      breaker: { failureThreshold: 10_000, openMs: 1_000 },
    });
    const connection = app.core.connection!;
    expect(connection.health().status).toBe('down');
    expect(await rejectionOf(connection.execute('ping', (c) => c.ping()))).toBeInstanceOf(RedisUnavailableError);

    server = await startRedisServer({ port });
    await until(() => connection.health().status === 'up', { timeoutMs: 15_000, message: 'health up' });
    expect(await connection.execute('ping', (c) => c.ping())).toBe('PONG');
  });
});

describe('circuit breaker against a paused server', () => {
  let server: RedisServerHandle;
  let app: BootedModule | undefined;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    server?.resume();
    await app?.close();
    await server?.stop();
  });

  it('opens after sustained timeouts, fails fast while open, and closes after a successful probe', async () => {
    app = await bootModule({
      connection: { url: server.url, commandTimeoutMs: 200 },
      breaker: { failureThreshold: 3, openMs: 500 },
      health: { pingIntervalMs: 0 },
    });
    const connection = app.core.connection!;
    expect(await connection.execute('ping', (c) => c.ping())).toBe('PONG');

    server.pause();
    for (let i = 0; i < 3; i++) {
      const error = await rejectionOf(connection.execute('ping', (c) => c.ping()));
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(String((error as Error).cause)).toMatch(/timed out/);
    }
    expect(connection.breaker.state).toBe('open');
    expect(connection.health()).toMatchObject({ status: 'down', breaker: 'open' });

    let reachedRedis = false;
    const fastFailure = await rejectionOf(
      connection.execute('ping', (c) => {
        reachedRedis = true;
        return c.ping();
      }),
    );
    expect(fastFailure).toBeInstanceOf(CircuitOpenError);
    expect((fastFailure as CircuitOpenError).code).toBe('E_CIRCUIT_OPEN');
    expect(reachedRedis).toBe(false);

    server.resume();
    await until(() => connection.breaker.state === 'half-open', { timeoutMs: 15_000, message: 'breaker half-open' });
    expect(await connection.execute('ping', (c) => c.ping())).toBe('PONG');
    expect(connection.breaker.state).toBe('closed');
    expect(connection.health().status).toBe('up');
  });
});
