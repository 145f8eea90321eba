import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LockService, TaskHandler } from '@nest-coordination/core';
import type { BootedModule } from '../support/boot.js';
import { sleep, until } from '../support/wait.js';
import { breakerIs, healthUp, partitionEnv, RECOVERY_MS } from './partition-pair.js';
import { POLICY, servicesOf, TENANT, unavailable, worksFully, type Services } from './partition-services.js';

/** A's task worker (its own `queue` connections): what it handled, in order. */
@Injectable()
class ProbeWorker {
  readonly handled: number[] = [];

  @TaskHandler('probe.work')
  work(payload: { n: number }): void {
    this.handled.push(payload.n);
  }
}

/**
 * One instance (A) partitioned from Redis, its command connection, its subscriber, and its
 * blocking and queue connections separately, or slowed down, while another (B) keeps working:
 * A's breaker and health say so, each capability on A follows the README's failure policy, and
 * A comes back once the link does.
 */
describe('an instance partitioned from Redis while another keeps working', () => {
  const env = partitionEnv();

  it("cut of A's command connection: A's breaker opens, each capability applies its fallback, B works throughout; A recovers after restore", async () => {
    const { a, b, proxy } = await env.boot();
    const [A, B] = [servicesOf(a), servicesOf(b)];
    await worksFully(A, 'a-before');
    await A.cache.set('crew:1', { name: 'in L1' }, TENANT);
    await B.cache.set('crew:2', { name: 'only in Redis' }, TENANT);
    const opened = a.core.metrics.counter('redis_breaker_opened_total');

    proxy.cut({ role: 'command' });
    await breakerIs(a, 'open', "A's breaker to open");
    const health = a.core.connection!.health();
    expect(health).toMatchObject({ status: 'down', breaker: 'open' });
    expect(health.lastError).toBeDefined();
    expect(a.core.metrics.counter('redis_breaker_opened_total')).toBeGreaterThan(opened);
    expect(b.core.connection!.health()).toMatchObject({ status: 'up', breaker: 'closed' });

    // Rate limits: the local limiter answers (rateLimit.onRedisUnavailable: 'local').
    expect(await A.rateLimits.consume('user:1', POLICY)).toMatchObject({ allowed: true, source: 'local' });
    // Cache (degrade): L1 answers (the bus, on the subscriber, is up), a miss is a miss, a loader
    // still loads; nothing thrown, the errors counted. Writes and invalidations throw.
    const errors = A.cache.stats().errors;
    expect(await A.cache.get('crew:1', TENANT)).toEqual({ name: 'in L1' });
    expect(await A.cache.get('crew:2', TENANT)).toBeUndefined();
    expect(await A.cache.getOrSet('crew:3', () => ({ name: 'loaded' }), TENANT)).toEqual({ name: 'loaded' });
    expect(A.cache.stats().errors).toBeGreaterThan(errors);
    expect(await unavailable(A.cache.set('crew:3', { name: 'x' }, TENANT))).toBe('cache.set');
    expect(await unavailable(A.cache.delete('crew:1', TENANT))).toBe('cache.delete');
    expect(await unavailable(A.cache.invalidateTags(['crew'], TENANT))).toBe('cache.invalidateTags');
    // Locks fail closed, fast (the breaker is open), with a typed error.
    expect(await unavailable(A.locks.acquire('invoice:1', { waitMs: 5_000, ...TENANT }))).toBe('locks.acquire');
    expect(await unavailable(A.locks.tryAcquire('invoice:1', TENANT))).toBe('locks.acquire');
    // Events, streams, tasks, sessions, idempotency: a typed error (503 over HTTP), never a silent
    // drop; idempotent work does not run unprotected.
    expect(await unavailable(A.events.publish('probe.ping', {}, TENANT))).toBe('events.publish');
    expect(await unavailable(A.streams.append('probe', {}, TENANT))).toBe('streams.append');
    expect(await unavailable(A.tasks.enqueue('probe.task', {}, TENANT))).toBe('tasks.enqueue');
    expect(await unavailable(A.sessions.create('ada', {}, TENANT))).toBe('sessions.create');
    let charged = false;
    expect(await unavailable(A.idempotency.run('charge:1', () => (charged = true), TENANT))).toBe('idempotency.run');
    expect(charged).toBe(false);

    // B, on the same Redis, is not affected: it takes the lock A could not.
    await worksFully(B, 'b-during');
    const lockB = await B.locks.acquire('invoice:1', { ttlMs: 5_000, ...TENANT });
    await lockB.release();

    proxy.restore();
    await breakerIs(a, 'closed', "A's breaker to close after restore()");
    await healthUp(a, 'A to be up again');
    await worksFully(A, 'a-after');
    expect(a.core.connection!.health().reconnectCount).toBeGreaterThan(0);
  });

  it("cut of A's subscriber only: A is degraded but its commands work; events published meanwhile are lost to A; L1 is bypassed, then cleared when the bus is back, so it serves no stale value", async () => {
    const { a, b, proxy } = await env.boot();
    const [A, B] = [servicesOf(a), servicesOf(b)];
    const received: number[] = [];
    const stream = A.events.on<{ n: number }>('crew.progress', TENANT);
    const subscription = stream.subscribe((event) => received.push(event.payload.n));
    try {
      await stream.ready();
      await B.events.publish('crew.progress', { n: 1 }, TENANT);
      await until(() => received.includes(1), { timeoutMs: RECOVERY_MS, message: 'event 1 at A' });
      // Values in A's L1: read twice, the second read an L1 hit.
      for (const [key, value] of [['crew:1', 'v1'], ['crew:2', 'old']]) {
        await A.cache.set(key, value, TENANT);
        const l1Hits = A.cache.stats().l1Hits;
        expect(await A.cache.get(key, TENANT)).toBe(value);
        expect(A.cache.stats().l1Hits).toBeGreaterThan(l1Hits);
      }

      proxy.cut({ role: 'subscriber' });
      await until(() => a.core.connection!.health().status === 'degraded', { timeoutMs: RECOVERY_MS, message: 'A degraded' });
      // The command connection is fine: no breaker, every capability works on Redis.
      expect(a.core.connection!.health().breaker).toBe('closed');
      await worksFully(A, 'a-sub-down');

      // Pub/sub is at most once: published while A's subscriber is down, never delivered to A.
      await B.events.publish('crew.progress', { n: 2 }, TENANT);
      // B's writes cannot invalidate A's L1 (the bus is down), but L1 is bypassed: A reads Redis.
      await B.cache.set('crew:1', 'v2', TENANT);
      expect(await A.cache.get('crew:1', TENANT)).toBe('v2');
      await B.cache.set('crew:2', 'new', TENANT); // not read by A until the bus is back

      proxy.restore();
      await healthUp(a, "A's subscriber to reconnect");
      await stream.ready();
      await B.events.publish('crew.progress', { n: 3 }, TENANT);
      await until(() => received.includes(3), { timeoutMs: RECOVERY_MS, message: 'event 3 at A after restore()' });
      expect(received).toEqual([1, 3]);
      // The bus is back: L1 serves hits again...
      await A.cache.set('crew:1', 'v3', TENANT);
      await until(async () => {
        const l1Hits = A.cache.stats().l1Hits;
        return (await A.cache.get('crew:1', TENANT)) === 'v3' && A.cache.stats().l1Hits > l1Hits;
      }, { timeoutMs: RECOVERY_MS, message: "A's L1 in use again" });
      // ...and holds nothing from before the outage: the value B replaced meanwhile comes from Redis.
      const l1Hits = A.cache.stats().l1Hits;
      expect(await A.cache.get('crew:2', TENANT)).toBe('new');
      expect(A.cache.stats().l1Hits).toBe(l1Hits);
      // B's writes invalidate A's L1 again.
      await B.cache.set('crew:1', 'v4', TENANT);
      await until(async () => (await A.cache.get('crew:1', TENANT)) === 'v4', { timeoutMs: RECOVERY_MS, message: "B's write seen by A" });
    } finally {
      subscription.unsubscribe();
    }
  });

  it("a delayed link (every byte 1 s late): A's commands time out, its breaker opens and the fallbacks apply (rate limits fail closed here); delayed events still arrive; the breaker closes after restore", async () => {
    const { a, b, proxy } = await env.boot({
      connection: { commandTimeoutMs: 300 },
      rateLimit: { onRedisUnavailable: 'fail-closed', timeoutMs: 100 },
    });
    const [A, B] = [servicesOf(a), servicesOf(b)];
    const received: number[] = [];
    const stream = A.events.on<{ n: number }>('crew.progress', TENANT);
    const subscription = stream.subscribe((event) => received.push(event.payload.n));
    try {
      await stream.ready();
      await worksFully(A, 'a-before');

      proxy.delay(1_000);
      await breakerIs(a, 'open', "A's breaker to open on timeouts");
      expect(a.core.connection!.health().lastError).toMatch(/timed out/i);
      await expectFallbacks(A, 'fail-closed');
      // B publishes while A's link is slow: late, not lost (nothing is dropped on the link).
      await worksFully(B, 'b-during');
      await B.events.publish('crew.progress', { n: 1 }, TENANT);

      proxy.restore();
      await breakerIs(a, 'closed', "A's breaker to close after restore()");
      await until(() => received.includes(1), { timeoutMs: RECOVERY_MS, message: 'the delayed event at A' });
      await worksFully(A, 'a-after');
    } finally {
      subscription.unsubscribe();
    }
  });

  it("a lock handed to A while its command connection is frozen, the grant arriving late on its subscriber: A gets it, cannot renew it and reports it lost before B gets it back", async () => {
    // A command timeout longer than the TTL: A's renewal hangs past the expiry. A's waiter polls
    // rarely (no deadlock detection, long poll and lease), so the grant message is what wakes it.
    const { a, b, proxy, aId } = await env.boot({
      connection: { commandTimeoutMs: 3_000 },
      locks: { fallbackPollMs: 30_000, waiterLeaseMs: 60_000, deadlockDetection: false },
    });
    const [A, B] = [servicesOf(a), servicesOf(b)];
    const first = await B.locks.acquire('invoice:9', { ttlMs: 20_000, ...TENANT });
    const order: string[] = [];
    const waiting = A.locks.acquire('invoice:9', { ttlMs: 2_000, waitMs: RECOVERY_MS, ...TENANT });
    await until(() => a.core.metrics.counter('lock_contended_total', { kind: 'mutex' }) === 1, { timeoutMs: RECOVERY_MS, message: 'A queued' });
    // A's wait subscribes to its tenant's lock channels (PSUBSCRIBE on A's subscriber connection),
    // then polls once on its command connection; the freeze must come after that poll's reply (a
    // poll caught by it hangs, and A gives the wait up, fail closed, instead of being handed the
    // lock). A SUBSCRIBE sent after the PSUBSCRIBE on the same connection is confirmed after it,
    // and the poll is sent in the same turn of the event loop as that confirmation is handled;
    // a command of A sent after the poll gets its reply after the poll's.
    const probe = A.events.on(`probe.${randomBytes(4).toString('hex')}`, TENANT);
    const probing = probe.subscribe(() => undefined);
    try {
      await probe.ready();
      await new Promise((resolve) => setImmediate(resolve));
      expect(await A.locks.inspect('invoice:9', TENANT)).toMatchObject({ held: true, waiters: 1 });
    } finally {
      probing.unsubscribe();
    }

    proxy.freeze({ role: 'command' });
    // The grant message reaches A 400 ms late: A must count the TTL from before the hand-off (its
    // last request that found it queued), not from the message's arrival, or it would believe it
    // holds the lock for 400 ms after Redis let it expire and granted it to B.
    proxy.delay(400, { instanceId: aId, role: 'subscriber' });
    await first.release(); // hands the lock to A's queue entry and publishes the grant
    const lockA = await waiting;
    order.push('A granted');
    expect(lockA.isHeld()).toBe(true);
    lockA.signal.addEventListener('abort', () => order.push('A lost'));
    const granted = B.locks.acquire('invoice:9', { ttlMs: 5_000, waitMs: RECOVERY_MS, ...TENANT }).then((lock) => {
      order.push('B granted');
      return lock;
    });
    const lockB = await granted;
    await until(() => order.includes('A lost'), { timeoutMs: RECOVERY_MS, message: "A's signal to abort" });
    // A never held the lock when B was granted it.
    expect(order).toEqual(['A granted', 'A lost', 'B granted']);
    expect(lockB.fencingToken).toBeGreaterThan(lockA.fencingToken);
    await expectFallbacksWhenOpen(a, A);
    await worksFully(B, 'b-during');
    await lockB.release();

    proxy.restore();
    await breakerIs(a, 'closed', "A's breaker to close after restore()");
    await worksFully(A, 'a-after');
    expect(await a.get(LockService).isLocked('invoice:9', TENANT)).toBe(false);
  });

  it("cut of A's blocking and queue connections only: health and breaker ignore them and every call works; A's stream consumer and task worker pause, then catch up after restore", async () => {
    const { a, b, proxy, aId } = await env.boot({}, { a: { providers: [ProbeWorker] } });
    const [A, B] = [servicesOf(a), servicesOf(b)];
    const worker = a.get(ProbeWorker);
    const consumed: number[] = [];
    await A.streams.consume<{ n: number }>('orders', 'billing', (entry) => void consumed.push(entry.payload.n), {
      ...TENANT, blockMs: 200, claimIdleMs: 1_000, consumer: 'a',
    });
    await B.tasks.enqueue('probe.work', { n: 1 }, TENANT);
    await B.streams.append('orders', { n: 1 }, TENANT);
    await until(() => worker.handled.includes(1) && consumed.includes(1), { timeoutMs: RECOVERY_MS, message: 'task 1 and entry 1 handled by A' });

    proxy.cut({ instanceId: aId, role: 'blocking' });
    proxy.cut({ instanceId: aId, role: 'queue' });
    // The stream consumer saw its connection reset (its errors are recorded, its state is not watched).
    await until(() => /ECONNRESET/.test(a.core.connection!.health().lastError ?? ''), { timeoutMs: RECOVERY_MS, message: "A's blocking connection reset" });
    await B.tasks.enqueue('probe.work', { n: 2 }, TENANT);
    await B.streams.append('orders', { n: 2 }, TENANT);
    await worksFully(A, 'a-waiting-roles-cut');
    // Proving that nothing is handled meanwhile: 5 x the consumer's block time, many reconnects.
    await sleep(1_000);
    expect(worker.handled).toEqual([1]);
    expect(consumed).toEqual([1]);
    expect(a.core.connection!.health()).toMatchObject({ status: 'up', breaker: 'closed' });

    proxy.restore();
    await until(() => worker.handled.includes(2) && consumed.includes(2), { timeoutMs: RECOVERY_MS, message: 'task 2 and entry 2 handled by A after restore()' });
    expect(worker.handled).toEqual([1, 2]);
  });
});

/** Once A's breaker opened (the frozen link's commands timed out), the fallbacks apply. */
async function expectFallbacksWhenOpen(a: BootedModule, A: Services): Promise<void> {
  await breakerIs(a, 'open', "A's breaker to open");
  await expectFallbacks(A, 'local');
}

/** What A answers while its breaker is open, capability by capability (README "Failure policy"). */
async function expectFallbacks(A: Services, rateLimitSource: 'local' | 'fail-closed'): Promise<void> {
  const decision = await A.rateLimits.consume('user:1', POLICY);
  expect(decision).toMatchObject({ source: rateLimitSource, allowed: rateLimitSource === 'local' });
  expect(await A.cache.getOrSet('crew:loaded', () => 'loaded', TENANT)).toBe('loaded');
  expect(await unavailable(A.locks.acquire('invoice:1', { waitMs: 1_000, ...TENANT }))).toBe('locks.acquire');
  expect(await unavailable(A.streams.append('probe', {}, TENANT))).toBe('streams.append');
  expect(await unavailable(A.sessions.create('ada', {}, TENANT))).toBe('sessions.create');
}
