import { LockTimeoutError, ManualClock } from '@nest-coordination/core';
// Internals of the locks capability: the unsafe local fallback's store, built as lock-acquirer.ts does.
import { FENCE_RETENTION_MS, MemoryLockStore } from '../../libs/coordination/src/locks/memory-lock.store.js';
import { DRIVERS, REDIS_DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { lockTestApp, type LockTestApp } from './lock-test-app.js';

// Every key the locks capability writes must expire. Fence counters expire a fixed retention
// after they were seeded (later tokens write them with KEEPTTL), and an active lock's counter is
// then seeded again from the server clock, which tokens follow anyway (lua/fence.lua).
const GUARD_RETENTION_MS = 3_600_000;
const MAX_TTL_MS = 600_000;
const WAITER_LEASE_MS = 10_000;
/** The wait-order counter outlives any wait (waitMs <= maxTtlMs) plus a waiter's lease. */
const SEQUENCE_RETENTION_MS = MAX_TTL_MS + WAITER_LEASE_MS;
const options = { locks: { fenceGuardRetentionMs: GUARD_RETENTION_MS, maxTtlMs: MAX_TTL_MS, waiterLeaseMs: WAITER_LEASE_MS } };

/** Makes `tenant`'s owner B wait (and give up) for a lock owner A holds: a wait records its order. */
async function waitOnce(app: LockTestApp, tenant: string): Promise<void> {
  const held = await app.locks.acquire('busy', { tenant, owner: 'A' });
  await expect(app.locks.acquire('busy', { tenant, owner: 'B', waitMs: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
  await held.release();
}

describe.each(REDIS_DRIVERS)('lock keys with a retention ($name)', (driver) => {
  let app: LockTestApp;
  beforeEach(async () => {
    app = await lockTestApp(driver, options);
  });
  afterEach(() => app.close());

  const pttl = (key: string) => app.core.connection!.execute('test.pttl', (c) => c.pttl(key));

  it('gives the checkFence guard the fenceGuardRetentionMs expiry, renewed by accepted and refused checks', async () => {
    const guard = app.keys.fenceGuard('acme', 'ledger');
    expect(await app.locks.checkFence('ledger', 5, { tenant: 'acme' })).toBe(true);
    expect(await pttl(guard)).toBeGreaterThan(0);
    expect(await pttl(guard)).toBeLessThanOrEqual(GUARD_RETENTION_MS);
    await app.core.connection!.execute('test.pexpire', (c) => c.pexpire(guard, 60_000));
    expect(await app.locks.checkFence('ledger', 4, { tenant: 'acme' })).toBe(false);
    expect(await pttl(guard)).toBeGreaterThan(60_000);
    await app.core.connection!.execute('test.pexpire', (c) => c.pexpire(guard, 60_000));
    expect(await app.locks.checkFence('ledger', 5, { tenant: 'acme' })).toBe(true);
    expect(await pttl(guard)).toBeGreaterThan(60_000);
  });

  it('gives the per-tenant wait-order counter an expiry longer than any wait', async () => {
    await waitOnce(app, 'acme');
    const sequence = app.keys.waitSequence('acme');
    expect(await pttl(sequence)).toBeGreaterThan(MAX_TTL_MS);
    expect(await pttl(sequence)).toBeLessThanOrEqual(SEQUENCE_RETENTION_MS);
  });

  const pexpire = (key: string, ms: number) => app.core.connection!.execute('test.pexpire', (c) => c.pexpire(key, ms));
  const tenant = 'acme';
  const kinds = [
    { kind: 'mutex', fence: () => app.keys.mutex(tenant, 'invoice-1').fence, take: () => app.locks.acquire('invoice-1', { tenant }) },
    { kind: 'semaphore', fence: () => app.keys.semaphore(tenant, 'invoice-1').fence, take: () => app.locks.acquirePermit('invoice-1', { tenant, permits: 2 }) },
    { kind: 'read-write (read)', fence: () => app.keys.readWrite(tenant, 'invoice-1').fence, take: () => app.locks.acquireRead('invoice-1', { tenant }) },
    { kind: 'read-write (write)', fence: () => app.keys.readWrite(tenant, 'invoice-1').fence, take: () => app.locks.acquireWrite('invoice-1', { tenant }) },
  ];

  it.each(kinds)('seeds the $kind fence counter with the fixed retention, which later tokens (SET KEEPTTL) keep', async ({ fence, take }) => {
    // First acquisition: the counter is seeded (the mutex's uncontended fast path, fence_seed otherwise).
    const first = await take();
    await first.release();
    const seeded = await pttl(fence());
    expect(seeded).toBeGreaterThan(0);
    expect(seeded).toBeLessThanOrEqual(FENCE_RETENTION_MS);
    expect(seeded).toBeGreaterThan(FENCE_RETENTION_MS - 60_000);
    // Second acquisition: the counter written with KEEPTTL, which neither resets nor removes the expiry.
    const second = await take();
    await second.release();
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(await app.core.connection!.execute('test.get', (c) => c.get(fence()))).toBe(String(second.fencingToken));
    const after = await pttl(fence());
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(seeded);
    await pexpire(fence(), 60_000);
    const third = await take();
    await third.release();
    expect(third.fencingToken).toBeGreaterThan(second.fencingToken);
    expect(await pttl(fence())).toBeGreaterThan(0);
    expect(await pttl(fence())).toBeLessThanOrEqual(60_000);
  });

  it.each(kinds)('issues a larger $kind token after its fence counter expired (seeded again from the server clock)', async ({ fence, take }) => {
    const first = await take();
    await first.release();
    const second = await take();
    await second.release();
    await pexpire(fence(), 1);
    await until(async () => (await app.core.connection!.execute('test.exists', (c) => c.exists(fence()))) === 0, { timeoutMs: 10_000, message: 'the fence counter to expire' });
    const third = await take();
    await third.release();
    expect(third.fencingToken).toBeGreaterThan(second.fencingToken);
    expect(Number.isSafeInteger(third.fencingToken)).toBe(true);
    expect(await pttl(fence())).toBeGreaterThan(FENCE_RETENTION_MS - 60_000);
  });
});

describe.each(DRIVERS.filter((d) => d.name === 'memory'))('lock keys with a retention ($name)', (driver) => {
  let app: LockTestApp;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock(1_700_000_000_000);
    app = await lockTestApp(driver, { ...options, clock });
  });
  afterEach(() => app.close());

  it('forgets a checkFence guard fenceGuardRetentionMs after its last check, like a resource never checked', async () => {
    expect(await app.locks.checkFence('ledger', 5)).toBe(true);
    clock.advance(GUARD_RETENTION_MS - 1);
    expect(await app.locks.checkFence('ledger', 4)).toBe(false);
    // The refused check renewed the guard: a full retention after the first check it still refuses.
    clock.advance(GUARD_RETENTION_MS - 1);
    expect(await app.locks.checkFence('ledger', 4)).toBe(false);
    clock.advance(GUARD_RETENTION_MS);
    expect(await app.locks.checkFence('ledger', 4)).toBe(true);
  });

  it('forgets a tenant\'s wait-order counter a retention longer than any wait after its last wait', async () => {
    await waitOnce(app, 'acme');
    await waitOnce(app, 'globex');
    clock.advance(SEQUENCE_RETENTION_MS - 1);
    expect(await app.store.increment(app.keys.waitSequence('globex'), SEQUENCE_RETENTION_MS)).toBe(2);
    clock.advance(1);
    expect(await app.store.increment(app.keys.waitSequence('acme'), SEQUENCE_RETENTION_MS)).toBe(1);
  });

  it('issues tokens that follow the clock in microseconds, counting on by one while the clock stands, across the retention after the seed', async () => {
    const take = async () => {
      const lock = await app.locks.acquire('invoice-1');
      await lock.release();
      return lock.fencingToken;
    };
    const first = await take();
    expect(first).toBe(Math.floor(clock.now() * 1_000));
    expect(await take()).toBe(first + 1); // the clock stands: the counter + 1
    clock.advance(FENCE_RETENTION_MS - 1);
    const third = await take();
    expect(third).toBe(Math.floor(clock.now() * 1_000)); // the counter lives on, but the clock is ahead
    clock.advance(1);
    const fourth = await take(); // the counter expired (as Redis expires it) and starts at the clock again
    expect(fourth).toBe(Math.floor(clock.now() * 1_000));
    expect(fourth).toBeGreaterThan(third);
    expect(await take()).toBe(fourth + 1);
  });

  it('never expires the counters of the unsafe local fallback, which start at 1', async () => {
    const fallback = new MemoryLockStore(clock, false);
    const keys = app.keys.mutex('acme', 'invoice-1');
    const take = async (token: string) => {
      const reply = await fallback.acquireMutex(keys, { token, owner: token, ttlMs: 1_000, reentrant: false, enqueue: false, priority: 0, leaseMs: 1_000 });
      if (!reply.acquired) throw new Error('not acquired');
      await fallback.releaseMutex(keys, token);
      return reply.fencingToken;
    };
    expect(await take('a')).toBe(1);
    clock.advance(FENCE_RETENTION_MS);
    expect(await take('b')).toBe(2);
    clock.advance(10 * FENCE_RETENTION_MS);
    expect(await take('c')).toBe(3);
  });
});
