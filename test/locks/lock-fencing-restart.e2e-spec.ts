import { Redis } from 'ioredis';
import type { Lock } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { until } from '../support/wait.js';
import { lockTestApp, type LockTestApp } from './lock-test-app.js';

/**
 * Fencing tokens when Redis restarts without persistence and so loses every key, the fence
 * counters too, or brings a counter back older than the tokens it issued (a failover to a replica
 * that missed the latest writes, a restart from an older snapshot).
 */
describe('fencing tokens across a Redis restart without persistence or a stale counter', () => {
  let server: RedisServerHandle;
  let app: LockTestApp | undefined;
  beforeEach(async () => {
    server = await startRedisServer(); // no RDB, no AOF: see test/harness/redis-server.ts
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await server.stop();
  });

  /** One hold of each kind on `key`, released; their fencing tokens. */
  async function tokens(key: string): Promise<number[]> {
    const locks = app!.locks;
    const held: Lock[] = [];
    for (const take of [() => locks.acquire(key), () => locks.acquirePermit(key, { permits: 2 }), () => locks.acquireRead(key), () => locks.acquireWrite(key)]) {
      const lock = await take();
      held.push(lock);
      await lock.release();
    }
    return held.map((lock) => lock.fencingToken);
  }

  it('issues larger tokens after the restart than before it, for every kind of lock', async () => {
    app = await lockTestApp({
      name: 'standalone',
      options: () => ({ connection: { url: server.url, commandTimeoutMs: 500 }, reconnect: { baseDelayMs: 50, maxDelayMs: 200 }, breaker: { openMs: 200 } }),
    });
    const before = [...(await tokens('ledger')), ...(await tokens('ledger'))];
    await server.kill();
    await server.restart();
    const probe = new Redis(server.url);
    try {
      expect(await probe.dbsize()).toBe(0); // the counters are gone
    } finally {
      probe.disconnect();
    }
    // The app reconnects by itself; until then its calls fail with RedisUnavailableError.
    const after = await until(() => tokens('ledger').catch(() => null), { timeoutMs: 15_000, intervalMs: 100, message: 'locks to work again after the restart' });
    for (const [i, token] of after.entries()) {
      expect(Number.isSafeInteger(token)).toBe(true);
      // Each kind against its own earlier tokens (permit, read and write come from their own counters).
      expect(token).toBeGreaterThan(Math.max(before[i], before[i + 4]));
    }
  }, 60_000);

  it('issues larger tokens after a counter was brought back older than the tokens it issued (a promoted replica, an older snapshot), for every kind of lock', async () => {
    app = await lockTestApp({ name: 'standalone', options: () => ({ connection: { url: server.url } }) });
    const client = app.core.connection!.client;
    const fences = [app.keys.mutex('_shared', 'ledger').fence, app.keys.semaphore('_shared', 'ledger').fence, app.keys.readWrite('_shared', 'ledger').fence];
    const before = await tokens('ledger');
    // What a replica promoted now would hold: the counters as they are after the first round.
    const stale = await Promise.all(fences.map((key) => client.get(key)));
    expect(stale.every((value) => value !== null)).toBe(true);
    before.push(...(await tokens('ledger')), ...(await tokens('ledger')));
    for (const [i, key] of fences.entries()) await client.set(key, stale[i]!, 'KEEPTTL');
    const after = await tokens('ledger');
    for (const [i, token] of after.entries()) {
      expect(Number.isSafeInteger(token)).toBe(true);
      // Each kind against every earlier token of its own counter (read and write share one).
      const own = before.filter((_, j) => fences[Math.min(j % 4, 2)] === fences[Math.min(i, 2)]);
      expect(token).toBeGreaterThan(Math.max(...own));
    }
    for (const key of fences) expect(await client.pttl(key)).toBeGreaterThan(0); // the retention is kept
  });

  it('gives a free lock whose counter alone was lost to the head of its queue, not to a newcomer', async () => {
    app = await lockTestApp({ name: 'standalone', options: () => ({ connection: { url: server.url } }) });
    const { store } = app;
    const k = app.keys.mutex('_shared', 'evicted');
    const request = (token: string, more: object = {}) => ({
      token, owner: token, ttlMs: 60_000, reentrant: false, enqueue: false, priority: 0, leaseMs: 60_000, ...more,
    });
    const first = await store.acquireMutex(k, request('h'));
    expect(await store.acquireMutex(k, request('w', { enqueue: true }))).toMatchObject({ acquired: false });
    const client = app.core.connection!.client;
    // The holder's lock expires (deleted here rather than waited for: a short TTL could run out
    // before the waiter queues on a busy machine, and the waiter would simply take the lock).
    await client.del(k.lock);
    await client.del(k.fence); // as an allkeys-* eviction would
    expect(await store.acquireMutex(k, request('newcomer'))).toEqual({ acquired: false, holderOwner: null, pttlMs: -1, position: -1 });
    expect(await client.exists(k.fence)).toBe(0);
    const head = await store.acquireMutex(k, request('w', { enqueue: true, queued: true }));
    expect(head).toMatchObject({ acquired: true, token: 'w' });
    expect((head as { fencingToken: number }).fencingToken).toBeGreaterThan((first as { fencingToken: number }).fencingToken);
  });
});
