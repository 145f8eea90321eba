import {
  CoordinationError, DeadlockError, InvalidArgumentError, InvalidKeyError, LockAbortedError, LockLostError, LockTimeoutError,
  TenantInvalidError, type Lock,
} from '@nest-coordination/core';
import type { DriverCase } from '../support/drivers.js';
import { contended, keysUnderPrefix, lockTestApp, type LockTestApp } from '../locks/lock-test-app.js';
import { nextEvent, sleep, until } from '../support/wait.js';

/**
 * The lock semantics every backend must have, through LockService: memory, standalone Redis and
 * Redis Cluster run these same assertions. The store-level contract is
 * test/contract/stores/lock-store.contract.ts.
 */
export function describeLockServiceContract(driver: DriverCase): void {
  let app: LockTestApp;
  beforeEach(async () => {
    app = await lockTestApp(driver, { locks: { fallbackPollMs: 200, waiterLeaseMs: 3_000 } });
  });
  afterEach(async () => {
    await app.close();
  });
  /** Heartbeats and polls a minute apart: within the test timeout only immediate detection can pass. */
  const slowPollingApp = () => lockTestApp(driver, { locks: { fallbackPollMs: 60_000, waiterLeaseMs: 60_000 } });

  it('excludes a second holder until release, then grants with a larger fencing token', async () => {
    const first = await app.locks.acquire('job', { ttlMs: 5_000 });
    expect(await app.locks.tryAcquire('job')).toBeNull();
    expect(await app.locks.isLocked('job')).toBe(true);
    await first.release();
    expect(await app.locks.isLocked('job')).toBe(false);
    const second = await app.locks.acquire('job', { ttlMs: 5_000 });
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
  });

  it('returns strictly increasing fencing tokens per key', async () => {
    const tokens: number[] = [];
    for (let i = 0; i < 5; i++) {
      const lock = await app.locks.acquire('fenced');
      tokens.push(lock.fencingToken);
      await lock.release();
    }
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(5);
  });

  it('raises LockLostError on release / extend of an expired lock and never deletes the new holder', async () => {
    const stale = await app.locks.acquire('expiring', { ttlMs: 100, autoRenew: false });
    await until(async () => !(await app.locks.isLocked('expiring')), { timeoutMs: 5_000, message: 'the 100 ms lock to expire' });
    const fresh = await app.locks.acquire('expiring', { ttlMs: 5_000 });
    await expect(stale.extend(1_000)).rejects.toBeInstanceOf(LockLostError);
    await expect(stale.release()).rejects.toBeInstanceOf(LockLostError);
    expect(await app.locks.isLocked('expiring')).toBe(true);
    expect(fresh.isHeld()).toBe(true);
    await fresh.release();
    expect(await app.locks.isLocked('expiring')).toBe(false);
  });

  it('is reentrant for the same owner only when asked, keeping the fencing token', async () => {
    const outer = await app.locks.acquire('re', { owner: 'worker-1', reentrant: true });
    const inner = await app.locks.acquire('re', { owner: 'worker-1', reentrant: true });
    expect(inner.fencingToken).toBe(outer.fencingToken);
    expect(await app.locks.tryAcquire('re', { owner: 'worker-2', reentrant: true })).toBeNull();
    await inner.release();
    expect(await app.locks.isLocked('re')).toBe(true);
    await outer.release();
    expect(await app.locks.isLocked('re')).toBe(false);
  });

  it('fails at once with DeadlockError when an owner waits for a non-reentrant lock it holds', async () => {
    const slow = await slowPollingApp();
    try {
      const lock = await slow.locks.acquire('self', { owner: 'me' });
      await expect(slow.locks.acquire('self', { owner: 'me', waitMs: 60_000 })).rejects.toBeInstanceOf(DeadlockError);
      await lock.release();
    } finally {
      await slow.close();
    }
  });

  it('serves waiters in arrival order (FIFO)', async () => {
    const holder = await app.locks.acquire('fifo');
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 1; i <= 4; i++) {
      waiters.push(app.locks.withLock('fifo', async () => void order.push(i), { waitMs: 10_000 }));
      await contended(app, i);
    }
    await holder.release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('serves the highest priority first, equal priorities in arrival order', async () => {
    const holder = await app.locks.acquire('prio');
    const order: string[] = [];
    const waiters: Promise<void>[] = [];
    const plan: Array<[string, number]> = [['low', 1], ['high', 5], ['mid', 3], ['high2', 5]];
    for (const [i, [name, priority]] of plan.entries()) {
      waiters.push(app.locks.withLock('prio', async () => void order.push(name), { waitMs: 10_000, priority }));
      await contended(app, i + 1);
    }
    await holder.release();
    await Promise.all(waiters);
    expect(order).toEqual(['high', 'high2', 'mid', 'low']);
  });

  it('times out with LockTimeoutError and leaves no queue entry behind', async () => {
    const holder = await app.locks.acquire('busy');
    await expect(app.locks.acquire('busy', { waitMs: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
    await holder.release();
    const next = await app.locks.tryAcquire('busy');
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('cancels a wait through the caller AbortSignal', async () => {
    const holder = await app.locks.acquire('abortable');
    const controller = new AbortController();
    const waiting = app.locks.acquire('abortable', { waitMs: 10_000, signal: controller.signal });
    await contended(app, 1);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(LockAbortedError);
    await expect(app.locks.acquire('abortable', { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(LockAbortedError);
    await holder.release();
    expect(await app.locks.tryAcquire('abortable')).not.toBeNull();
  });

  it('keeps a renewed lock through 5x its TTL and lists it in held()', async () => {
    // A TTL of 1 s leaves a loaded CI machine room for each renewal round trip (at ~ttl/3).
    const lock = await app.locks.acquire('long', { ttlMs: 1_000, owner: 'renewer' });
    for (let i = 0; i < 5; i++) {
      await sleep(1_000); // time passing is the point: the lock must outlive five TTLs
      expect(await app.locks.tryAcquire('long')).toBeNull();
    }
    expect(lock.isHeld()).toBe(true);
    expect(lock.renewals).toBeGreaterThanOrEqual(3);
    const info = app.locks.held().find((h) => h.key === 'long');
    expect(info).toMatchObject({ owner: 'renewer', kind: 'mutex', fencingToken: lock.fencingToken });
    expect(info!.renewals).toBeGreaterThanOrEqual(3);
    await lock.release();
    expect(app.locks.held().find((h) => h.key === 'long')).toBeUndefined();
  });

  it('aborts the signal of a lock whose renewal fails, without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const lock = await app.locks.acquire('doomed', { ttlMs: 300 });
      const aborted = nextEvent(lock.signal, 'abort', { timeoutMs: 5_000, message: 'the lock signal to abort' }).then(() => lock.signal.reason);
      // Behind its back: the lock disappears (an operator, a failover), so the next renewal is refused.
      await app.store.releaseMutex(app.keys.mutex('_shared', 'doomed'), lock.token);
      expect(await aborted).toBeInstanceOf(LockLostError);
      expect(lock.isHeld()).toBe(false);
      await expect(lock.release()).rejects.toBeInstanceOf(LockLostError);
      await sleep(50); // time for a stray rejection to surface: there must be none
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('releases in withLock even when the function throws', async () => {
    await expect(app.locks.withLock('boom', async () => { throw new Error('work failed'); })).rejects.toThrow('work failed');
    expect(await app.locks.isLocked('boom')).toBe(false);
  });

  it('detects a deadlock between two owners and lets the survivor through', async () => {
    const slow = await slowPollingApp();
    try {
      const a1 = await slow.locks.acquire('L1', { owner: 'A' });
      const b2 = await slow.locks.acquire('L2', { owner: 'B' });
      const aWaits = slow.locks.acquire('L2', { owner: 'A', waitMs: 60_000 });
      await contended(slow, 1);
      // A's wait-for edge must be in place: B's wait then closes the cycle and must see it at once.
      await until(() => slow.store.getWaitEdge(slow.keys.waitEdge('_shared', 'A')), { timeoutMs: 10_000, intervalMs: 2, message: "A's wait-for edge" });
      await expect(slow.locks.acquire('L1', { owner: 'B', waitMs: 60_000 })).rejects.toBeInstanceOf(DeadlockError);
      await b2.release();
      const a2 = await aWaits;
      expect(a2.owner).toBe('A');
      await a2.release();
      await a1.release();
    } finally {
      await slow.close();
    }
  });

  it('never grants more semaphore permits than its limit', async () => {
    let inside = 0;
    let most = 0;
    const worker = async () => {
      const permit = await app.locks.acquirePermit('pool', { permits: 3, waitMs: 20_000, ttlMs: 5_000 });
      inside += 1;
      most = Math.max(most, inside);
      await sleep(20); // holds the permit a while, so that the twelve workers overlap
      inside -= 1;
      await permit.release();
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(most).toBe(3);
    const held = await Promise.all([1, 2, 3].map(() => app.locks.acquirePermit('pool2', { permits: 3, waitMs: 0 })));
    await expect(app.locks.acquirePermit('pool2', { permits: 3, waitMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    await held[0].release();
    const again = await app.locks.acquirePermit('pool2', { permits: 3, waitMs: 0 });
    await Promise.all([again, ...held.slice(1)].map((p) => p.release()));
  });

  it('lets many readers or one writer hold a read-write lock', async () => {
    const r1 = await app.locks.acquireRead('doc');
    const r2 = await app.locks.acquireRead('doc');
    await expect(app.locks.acquireWrite('doc', { waitMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    const writer = app.locks.acquireWrite('doc', { waitMs: 10_000 });
    await contended(app, 2, 'write');
    // A waiting writer turns new readers away, so readers cannot starve it.
    await expect(app.locks.acquireRead('doc', { waitMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    await r1.release();
    await r2.release();
    const w = await writer;
    await expect(app.locks.acquireRead('doc', { waitMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    await w.release();
    const r3 = await app.locks.acquireRead('doc', { waitMs: 0 });
    await r3.release();
  });

  it('accepts a fencing token at a resource unless it is older than the newest seen', async () => {
    expect(await app.locks.checkFence('ledger', 5)).toBe(true);
    expect(await app.locks.checkFence('ledger', 4)).toBe(false);
    // Equal: the same holder's next write (tokens are unique per acquisition).
    expect(await app.locks.checkFence('ledger', 5)).toBe(true);
    expect(await app.locks.checkFence('ledger', 6)).toBe(true);
    expect(await app.locks.checkFence('ledger', 5)).toBe(false);
  });

  it('rejects bad input with typed errors before touching the store', async () => {
    const bad: Array<[string, object, Function]> = [
      ['', {}, InvalidKeyError],
      ['a*b', {}, InvalidKeyError],
      ['a{b}', {}, InvalidKeyError],
      ['a?[x]', {}, InvalidKeyError],
      ['ok', { ttlMs: 0 }, InvalidArgumentError],
      ['ok', { ttlMs: -5 }, InvalidArgumentError],
      ['ok', { ttlMs: Number.NaN }, InvalidArgumentError],
      ['ok', { ttlMs: Infinity }, InvalidArgumentError],
      ['ok', { ttlMs: 25 * 3_600_000 }, InvalidArgumentError],
      ['ok', { waitMs: -1 }, InvalidArgumentError],
      ['ok', { priority: 1.5 }, InvalidArgumentError],
      ['ok', { owner: 'x*' }, InvalidKeyError],
    ];
    for (const [key, options, type] of bad) {
      const error = await app.locks.acquire(key, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect(error).toBeInstanceOf(CoordinationError);
    }
    await expect(app.locks.acquirePermit('ok', { permits: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(app.locks.acquireRead('r*', {})).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(app.locks.checkFence('ok', Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
    for (const key of ['', 'a*b', 'crew-run:{x}', 'a?[x]', 'a\\b']) await expect(app.locks.inspect(key)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(app.locks.inspect('ok', { tenant: 'acme:*' })).rejects.toBeInstanceOf(TenantInvalidError);
    await expect(app.locks.inspect('ok', 'acme' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await app.locks.isLocked('ok')).toBe(false);
    expect(app.locks.held()).toEqual([]);
    expect(await keysUnderPrefix(app)).toEqual([]);
  });

  it('hands the lock to a waiter on release with a fresh fencing token', async () => {
    const holder: Lock = await app.locks.acquire('handoff', { ttlMs: 60_000 });
    const waiting = app.locks.acquire('handoff', { waitMs: 10_000 });
    await contended(app, 1);
    await holder.release();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
    expect(next.isHeld()).toBe(true);
    await next.release();
  });

  it('inspects a mutex as every instance sees it: holder, fencing token, time left and waiters, per tenant', async () => {
    const key = 'crew-run:c-1';
    expect(await app.locks.inspect(key, { tenant: 'acme' })).toEqual({ key, tenant: 'acme', held: false, waiters: 0 });
    const holder = await app.locks.acquire(key, { tenant: 'acme', owner: 'runner-1', ttlMs: 20_000, autoRenew: false });
    const waiting = app.locks.acquire(key, { tenant: 'acme', waitMs: 20_000 });
    await contended(app, 1);
    const held = await app.locks.inspect(key, { tenant: 'acme' });
    expect(held).toEqual({ key, tenant: 'acme', held: true, owner: 'runner-1', fencingToken: holder.fencingToken, expiresInMs: expect.any(Number), waiters: 1 });
    expect(held.expiresInMs).toBeGreaterThan(15_000);
    expect(held.expiresInMs).toBeLessThanOrEqual(20_000);
    expect(await app.locks.inspect(key, { tenant: 'globex' })).toEqual({ key, tenant: 'globex', held: false, waiters: 0 });

    await holder.release();
    const next = await waiting;
    expect(await app.locks.inspect(key, { tenant: 'acme' })).toMatchObject({ held: true, owner: next.owner, fencingToken: next.fencingToken, waiters: 0 });
    await next.release();
    expect(await app.locks.inspect(key, { tenant: 'acme' })).toEqual({ key, tenant: 'acme', held: false, waiters: 0 });
  });
}
