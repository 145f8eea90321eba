import { DeadlockError, LockService } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { until } from '../support/wait.js';

/**
 * Deadlock detection re-runs with every heartbeat of a waiter, reading the lock's holder. Found by
 * `npm run scale`: a waiter whose heartbeat ran after the lock was handed to it, before it heard
 * the hand-off message, read itself as the holder and failed with a DeadlockError
 * "cycle owner -> owner", although the lock was granted to it (and was then passed on). A holder
 * with the waiter's owner is still a cycle of one when it is another call of that owner.
 */
describe('deadlock detection at a waiter heartbeat', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  const apps: BootedModule[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy(server);
  });
  afterAll(async () => {
    proxy.restore();
    for (const app of apps) await app.close();
    await proxy.close();
    await server.stop();
  });

  it('grants a hand-off the waiter has not heard of yet, instead of reporting a deadlock with itself', async () => {
    const holderApp = await bootModule({ connection: { url: server.url }, prefix: 'ho', health: { pingIntervalMs: 0 } });
    // A short lease: the waiter heartbeats (and re-runs deadlock detection) every 100 ms.
    const waiterApp = await bootModule({
      connection: { url: `redis://127.0.0.1:${proxy.port}` }, prefix: 'ho', instanceId: 'waiter', health: { pingIntervalMs: 0 },
      locks: { waiterLeaseMs: 300 },
    });
    apps.push(holderApp, waiterApp);
    const holder = await holderApp.get(LockService).acquire('k', { ttlMs: 30_000 });
    const waiting = waiterApp.get(LockService).acquire('k', { ttlMs: 30_000, waitMs: 10_000 });
    const outcome = waiting.then(() => 'granted', (error: Error) => `${error.name}: ${error.message}`);
    await until(async () => (await holderApp.get(LockService).inspect('k')).waiters === 1, { timeoutMs: 5_000, message: 'the waiter to queue' });
    await until(() => proxy.connections().includes('coord:waiter:subscriber'), { timeoutMs: 5_000, message: 'the waiter to subscribe' });
    // The waiter hears the hand-off 1.5 s late (a slow subscriber link, or a busy process).
    proxy.delay(1_500, { role: 'subscriber', instanceId: 'waiter' });
    await holder.release();
    expect(await outcome).toBe('granted');
    proxy.restore();
    await (await waiting).release();
  });

  it('still reports a cycle of one when another call of the same owner was handed the lock ahead of the waiter', async () => {
    const app = await bootModule({ connection: { url: server.url }, prefix: 'self', health: { pingIntervalMs: 0 }, locks: { waiterLeaseMs: 300 } });
    apps.push(app);
    const locks = app.get(LockService);
    const other = await locks.acquire('k', { owner: 'other', ttlMs: 30_000 });
    // Both calls of `me` start waiting behind `other`: no cycle yet.
    const first = locks.acquire('k', { owner: 'me', ttlMs: 30_000, waitMs: 10_000 });
    await until(async () => (await locks.inspect('k')).waiters === 1, { timeoutMs: 5_000, message: 'the first call to queue' });
    const second = locks.acquire('k', { owner: 'me', ttlMs: 30_000, waitMs: 10_000 }).then(() => 'granted', (error: unknown) => error);
    await until(async () => (await locks.inspect('k')).waiters === 2, { timeoutMs: 5_000, message: 'the second call to queue' });
    await other.release();
    const held = await first;
    // `me` now holds the non-reentrant lock its second call waits for: only its heartbeat can tell.
    const error = await second;
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).cycle).toEqual(['me']);
    await held.release();
  });
});
