import { RedisConnection } from '../../libs/coordination/src/connection/redis-connection.js';
import { resolveOptions } from '../../libs/coordination/src/options/resolve-options.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { until } from '../support/wait.js';

/**
 * A connection the module made for blocking reads (a stream consumer's) that fails (its server
 * fails over, the link drops) emits 'error' like any ioredis client. ioredis prints
 * `[ioredis] Unhandled error event: ...` for every such error that finds no 'error' listener
 * (Redis#silentEmit), i.e. for every failed reconnect attempt. The print itself cannot be seen
 * here: under Jest the socket's error comes from another realm and fails ioredis's
 * `instanceof Error` check, so the test checks its condition, a listener, and where the module
 * puts the error instead: the health's lastError, as for its command and subscriber connections
 * (without counting the blocking connection towards the health status).
 */
describe('errors of a blocking connection', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  let connection: RedisConnection;
  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy(server);
  });
  afterAll(async () => {
    await connection?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('are recorded in the health, not printed by ioredis as unhandled', async () => {
    connection = new RedisConnection(resolveOptions({
      connection: { url: `redis://127.0.0.1:${proxy.port}` }, instanceId: 'blk', health: { pingIntervalMs: 0 },
    }));
    await connection.connect();
    const blocking = connection.createBlockingClient();
    await until(() => blocking.status === 'ready', { timeoutMs: 5_000, message: 'the blocking connection to be ready' });
    // Only the blocking connection fails: its reconnects are reset too. The command connection stays up.
    proxy.cut({ role: 'blocking', instanceId: 'blk' });
    try {
      await until(() => connection.health().lastError, { timeoutMs: 5_000, message: 'the blocking connection\'s error to be recorded' });
      expect(blocking.listenerCount('error')).toBeGreaterThan(0);
      expect(connection.health()).toMatchObject({ status: 'up', lastError: expect.stringContaining('ECONNRESET') });
    } finally {
      proxy.restore();
    }
    await until(() => blocking.status === 'ready', { timeoutMs: 5_000, message: 'the blocking connection to be back' });
  });
});
