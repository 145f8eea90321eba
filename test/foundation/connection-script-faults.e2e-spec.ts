import 'reflect-metadata';
// The EVAL a script call sends after a NOSCRIPT (a restarted or new node) failing: the hot path
// of CommandExecutor.runScript handles it on the EVALSHA's rejection, so it gets its own tests.
// Real redis-servers; the transport failure comes from a proxy that swallows exactly the EVAL.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { RedisUnavailableError } from '@nest-coordination/core';
import { RATE_LIMIT_SCRIPTS } from '../../libs/coordination/src/rate-limit/rate-limit.scripts.js';
import { sendCommand, startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { rejectionOf } from '../support/wait.js';

/** RESP of an EVAL command name (ioredis sends it lowercase; EVALSHA is `$7\r\nevalsha`). */
const EVAL = /\$4\r\neval\r\n/i;

/**
 * A TCP proxy in front of `target` that, once armed, stops forwarding a client connection's bytes
 * from the first EVAL on: the EVAL never reaches the server and never gets a reply, while every
 * command before it (the EVALSHA) is answered. `release()` destroys the swallowing connections.
 */
async function startEvalSwallowingProxy(target: RedisServerHandle): Promise<{ port: number; arm(): void; swallowed(): number; release(): void; close(): Promise<void> }> {
  let armed = false;
  let swallowed = 0;
  const open = new Set<Socket>();
  const stuck = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    let swallowing = false;
    client.on('data', (chunk: Buffer) => {
      if (!swallowing && armed && EVAL.test(chunk.toString('latin1'))) {
        swallowing = true;
        swallowed++;
        stuck.add(client);
      }
      if (!swallowing) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      stuck.delete(client);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    arm: () => (armed = true),
    swallowed: () => swallowed,
    release() {
      armed = false;
      for (const socket of [...stuck]) socket.destroy();
    },
    async close() {
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a script call whose EVAL after a NOSCRIPT fails', () => {
  let server: RedisServerHandle;
  let proxy: Awaited<ReturnType<typeof startEvalSwallowingProxy>>;
  let app: BootedModule;
  const script = RATE_LIMIT_SCRIPTS['fixed-window'];

  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startEvalSwallowingProxy(server);
    app = await bootModule({
      // The swallowed EVAL fails by this timeout; the EVALSHA before it is answered well within it.
      connection: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: 1_000 },
      health: { pingIntervalMs: 0 },
      reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
    });
  });
  // Connections left swallowing (a failed test) go, so the next test's commands are answered.
  afterEach(() => proxy.release());
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('a transport failure: RedisUnavailableError naming the operation, counted once by the breaker', async () => {
    const connection = app.core.connection!;
    const key = app.core.keys.key('acme', 'probe', 'eval-cut');
    // Loaded, then forgotten: the next call is EVALSHA (NOSCRIPT), then EVAL.
    expect(await connection.runScript<number[]>(script, [key], ['1', '7', '60000'])).toHaveLength(5);
    expect(await sendCommand(server, ['SCRIPT', 'FLUSH'])).toContain('OK');
    expect(connection.breaker.consecutiveFailures).toBe(0);

    proxy.arm();
    const error = await rejectionOf(connection.runScript(script, [key], ['1', '7', '60000']));
    expect(proxy.swallowed()).toBe(1);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).operation).toBe('rateLimit.consume');
    expect((error as Error).message).toContain('rateLimit.consume');
    expect(String((error as Error).cause)).toMatch(/Command timed out/);
    expect(connection.breaker.consecutiveFailures).toBe(1);
    expect(connection.breaker.state).toBe('closed');
  });

  it('a reply error: passed through unchanged, and not counted against the breaker', async () => {
    const connection = app.core.connection!;
    const key = app.core.keys.key('acme', 'probe', 'eval-wrongtype');
    // A string where the fixed window keeps a hash: the script itself fails, on the EVAL.
    await connection.execute('set', (client) => client.set(key, 'x', 'EX', 60));
    await connection.execute('ping', (client) => client.ping()); // a success: the breaker starts from 0
    expect(await sendCommand(server, ['SCRIPT', 'FLUSH'])).toContain('OK');
    const loaded = () => connection.execute('script exists', (client) => client.script('EXISTS', script.sha) as Promise<number[]>);
    expect(await loaded()).toEqual([0]);

    const error = await rejectionOf(connection.runScript(script, [key], ['1', '7', '60000']));
    expect(error).not.toBeInstanceOf(RedisUnavailableError);
    expect(String(error)).toMatch(/WRONGTYPE/);
    expect(connection.breaker.consecutiveFailures).toBe(0);
    // The EVAL ran (and loaded the script) even though it failed.
    expect(await loaded()).toEqual([1]);
  });
});
