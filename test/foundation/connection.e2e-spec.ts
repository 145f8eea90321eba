import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { RedisUnavailableError } from '@nest-coordination/core';
import { loadLuaScript } from '../support/internals.js';
import { testRedisUrl } from '../harness/env.js';
import { REDIS_DRIVERS } from '../support/drivers.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { rejectionOf, until } from '../support/wait.js';

// Loaded at import time, like a capability's scripts.
const scriptDir = mkdtempSync(join(tmpdir(), 'coord-lua-'));
writeFileSync(join(scriptDir, 'echo.lua'), '-- KEYS: any, unused. ARGV[1]: a value. Returns ARGV[1].\nreturn ARGV[1]\n');
const ECHO = loadLuaScript('coordTestEcho', pathToFileURL(join(scriptDir, 'x')).href, './echo.lua');
afterAll(() => rmSync(scriptDir, { recursive: true, force: true }));

describe.each(REDIS_DRIVERS)('connection to $name', (driver) => {
  let app: BootedModule;
  beforeAll(async () => {
    // No background PING: the latency this file reads must be the one of its own ping().
    app = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is up, with the right topology, once the module has started', () => {
    const health = app.core.connection!.health();
    expect(health).toMatchObject({ status: 'up', topology: driver.name, breaker: 'closed' });
    expect(health.lastReadyAt).toBeInstanceOf(Date);
    expect(app.core.driver).toBe('redis');
  });

  it('runs commands through execute and measures PING latency', async () => {
    const connection = app.core.connection!;
    const keys = ['a', 'b', 'c'].map((r) => app.core.keys.key('acme', 'probe', r));
    for (const key of keys) await connection.execute('set', (client) => client.set(key, key, 'EX', 60));
    expect(await Promise.all(keys.map((key) => connection.execute('get', (client) => client.get(key))))).toEqual(keys);
    // The latency is measured around a real round trip: above zero, and within the time the call took.
    const started = performance.now();
    const latency = await connection.ping();
    const elapsed = performance.now() - started;
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThanOrEqual(Math.ceil(elapsed * 100) / 100);
    expect(connection.health().pingLatencyMs).toBe(latency);
    await Promise.all(keys.map((key) => connection.execute('del', (client) => client.del(key))));
  });

  it('passes reply errors through unchanged without counting them against the breaker', async () => {
    const connection = app.core.connection!;
    const key = app.core.keys.key('acme', 'probe', 'hash');
    await connection.execute('hset', (client) => client.hset(key, 'f', 'v'));
    for (let i = 0; i < 10; i++) {
      const error = await rejectionOf(connection.execute('incr', (client) => client.incr(key)));
      expect(error).not.toBeInstanceOf(RedisUnavailableError);
      expect(String(error)).toMatch(/WRONGTYPE/);
    }
    expect(connection.breaker.state).toBe('closed');
    await connection.execute('del', (client) => client.del(key));
  });
});

describe.each(REDIS_DRIVERS)('Lua scripts on the auto-pipelined command connection ($name)', (driver) => {
  let app: BootedModule;
  beforeAll(async () => {
    app = await bootModule(driver.options());
  });
  afterAll(async () => {
    await app?.close();
  });

  it('runs a script first used in the same tick as other commands, on keys of many slots', async () => {
    const connection = app.core.connection!;
    const keys = Array.from({ length: 12 }, (_, i) => app.core.keys.key('acme', 'probe', `script-${i}`));
    // The GET opens an auto-pipeline; the script calls join it in the same tick, routed by their own keys.
    const [, ...echoed] = await Promise.all([
      connection.execute('get', (c) => c.get(keys[0])),
      ...keys.map((key, i) => connection.runScript<string>(ECHO, [key, `${key}:x`], [`v${i}`])),
    ]);
    expect(echoed).toEqual(keys.map((_, i) => `v${i}`));
  });

  it('loads the script again after the server forgot it (NOSCRIPT)', async () => {
    const connection = app.core.connection!;
    const key = app.core.keys.key('acme', 'probe', 'noscript');
    expect(await connection.runScript(ECHO, [key], ['before'])).toBe('before');
    const client = connection.client;
    const masters = 'nodes' in client ? client.nodes('master') : [client];
    await Promise.all(masters.map((node) => node.script('FLUSH')));
    expect(await connection.runScript(ECHO, [key], ['after'])).toBe('after');
  });
});

describe('an existing ioredis client', () => {
  it('is used for commands and left open when the app closes', async () => {
    const client = new Redis(testRedisUrl());
    try {
      const app = await bootModule({ connection: { client } });
      const connection = app.core.connection!;
      expect(connection.client).toBe(client);
      const subscriber = connection.subscriber();
      expect(subscriber).not.toBe(client);
      const key = app.core.keys.key('acme', 'probe', 'existing');
      await connection.execute('set', (c) => c.set(key, '1', 'EX', 60));
      expect(await client.get(key)).toBe('1');

      const listenersWhileUsed = client.listenerCount('ready');
      await app.close();
      expect(client.status).toBe('ready');
      expect(client.listenerCount('ready')).toBeLessThan(listenersWhileUsed);
      expect(await client.del(key)).toBe(1);
      expect(subscriber.status).toBe('end');
    } finally {
      client.disconnect();
    }
  });
});

describe('graceful shutdown', () => {
  it.each(REDIS_DRIVERS)('closes every connection the module opened ($name)', async (driver) => {
    const app = await bootModule(driver.options());
    const connection = app.core.connection!;
    const subscriber = connection.subscriber();
    const blocking = connection.createBlockingClient();
    await until(() => subscriber.status === 'ready' && blocking.status === 'ready', { timeoutMs: 15_000, message: 'subscriber and blocking client ready' });
    await app.close();
    for (const client of [connection.client, subscriber, blocking]) expect(client.status).toBe('end');
  });
});
