import {
  CircuitOpenError, DeadlockError, EventBus, RedisUnavailableError, type CoordinationEvent,
} from '@nest-coordination/core';
import { startRedisServer } from '../harness/redis-server.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';
import { contended, lockTestApp, type LockTestApp } from './lock-test-app.js';

describe.each(REDIS_DRIVERS)('locks on Redis ($name)', (driver) => {
  const apps: LockTestApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function twoInstances(locks: object = {}): Promise<[LockTestApp, LockTestApp]> {
    const prefix = uniquePrefix('locks');
    const pair = await Promise.all([lockTestApp(driver, { prefix, locks }), lockTestApp(driver, { prefix, locks })]);
    apps.push(...pair);
    return pair;
  }

  it('wakes a waiter of another instance by pub/sub, long before its fallback poll', async () => {
    // Fallback poll 30 s and a queue lease of 60 s, but a wait of only 10 s: the waiter can only
    // learn of the hand-off from the wake-up message.
    const [a, b] = await twoInstances({ fallbackPollMs: 30_000, waiterLeaseMs: 60_000 });
    const holder = await a.locks.acquire('wake', { ttlMs: 60_000, autoRenew: false });
    const waiting = b.locks.acquire('wake', { waitMs: 10_000 });
    await contended(b, 1);
    // Not observable from outside: let the waiter finish its first poll, so only the message can wake it.
    await sleep(100);
    await holder.release();
    const lock = await waiting;
    expect(lock.fencingToken).toBeGreaterThan(holder.fencingToken);
    await lock.release();
  });

  it('detects a deadlock across two module instances: the owner whose wait closes the cycle fails at once', async () => {
    // Heartbeats and polls a minute apart: within the wait only immediate detection can pass.
    const [one, two] = await twoInstances({ fallbackPollMs: 60_000, waiterLeaseMs: 60_000 });
    const deadlocks: CoordinationEvent<{ cycle: string[] }>[] = [];
    const deadlockEvents = two.moduleRef.get(EventBus).on<{ cycle: string[] }>('lock.deadlock');
    const subscription = deadlockEvents.subscribe((e) => deadlocks.push(e));
    await deadlockEvents.ready();
    const a1 = await one.locks.acquire('L1', { owner: 'A' });
    const b2 = await two.locks.acquire('L2', { owner: 'B' });
    const aWaits = one.locks.acquire('L2', { owner: 'A', waitMs: 25_000 });
    await contended(one, 1);
    // A's wait-for edge must be in place: B's wait then closes the cycle and must see it at once.
    await until(() => one.store.getWaitEdge(one.keys.waitEdge('_shared', 'A')), { timeoutMs: 10_000, intervalMs: 2, message: "A's wait-for edge" });
    const deadlocksCounted = (app: LockTestApp) => app.core.metrics.counter('lock_deadlock_total', { kind: 'mutex' });
    const [oneBefore, twoBefore] = [deadlocksCounted(one), deadlocksCounted(two)];
    const error = await two.locks.acquire('L1', { owner: 'B', waitMs: 25_000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).cycle).toEqual(['B', 'A']);
    // Counted once, by the instance whose waiter was told; A keeps waiting.
    expect(deadlocksCounted(two)).toBe(twoBefore + 1);
    expect(deadlocksCounted(one)).toBe(oneBefore);
    await b2.release();
    const a2 = await aWaits;
    expect(a2.owner).toBe('A');
    await Promise.all([a2.release(), a1.release()]);
    await until(() => deadlocks.length > 0, { timeoutMs: 5_000, message: 'the lock.deadlock event' });
    expect(deadlocks[0].payload.cycle).toEqual(['B', 'A']);
    subscription.unsubscribe();
  }, 30_000);
});

describe('locks when Redis is unreachable', () => {
  it('fails closed by default, and grants a local lock only with unsafeLocalFallbackOnOutage', async () => {
    const server = await startRedisServer();
    const options = (unsafe: boolean) => ({
      name: 'standalone' as const,
      options: () => ({ connection: { url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 500 }, reconnect: { baseDelayMs: 50, maxDelayMs: 200 }, locks: { unsafeLocalFallbackOnOutage: unsafe } }),
    });
    const strict = await lockTestApp(options(false));
    const lenient = await lockTestApp(options(true));
    try {
      const before = await strict.locks.acquire('outage');
      await before.release();
      await server.kill();
      const error = await strict.locks.acquire('outage', { waitMs: 0 }).catch((e: unknown) => e);
      expect(error instanceof RedisUnavailableError || error instanceof CircuitOpenError).toBe(true);
      const local = await lenient.locks.acquire('outage', { waitMs: 0, autoRenew: false });
      expect(local.isHeld()).toBe(true);
      // A fallback holder's token is older than any Redis token: a fenced resource refuses it,
      // never the Redis holders after the outage.
      expect(local.fencingToken).toBeLessThan(before.fencingToken);
      expect(await lenient.locks.tryAcquire('outage')).toBeNull();
      await local.release();
    } finally {
      await Promise.all([strict.close(), lenient.close()]);
      await server.stop();
    }
  }, 30_000);
});
