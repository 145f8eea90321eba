import { InvalidArgumentError, LockTimeoutError, type Lock } from '@nest-coordination/core';
import type { DriverCase } from '../support/drivers.js';
import { sleep } from '../support/wait.js';
import { contended, lockTestApp, type LockTestApp } from './lock-test-app.js';

/** Blocks this process's event loop, as a long GC pause would. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else runs meanwhile
  }
}

/**
 * Safety properties every backend must keep (memory, standalone, cluster): no two holders
 * through reentrant renewals or late hand-off messages, no readers blocked by a writer that
 * gave up, fencing that lets a holder write twice, TTL validation of extend().
 */
export function describeLockSafetyContract(driver: DriverCase): void {
  let app: LockTestApp;
  beforeEach(async () => {
    app = await lockTestApp(driver, { locks: { fallbackPollMs: 200, waiterLeaseMs: 3_000 } });
  });
  /** Polls and heartbeats a minute apart: a waiter learns of a hand-off from the message only. */
  const messageOnlyApp = () => lockTestApp(driver, { locks: { fallbackPollMs: 60_000, waiterLeaseMs: 60_000 } });
  afterEach(async () => {
    await app.close();
  });

  it('never lets a short inner reentrant hold shorten the outer hold', async () => {
    const outer = await app.locks.acquire('nest', { owner: 'w1', reentrant: true, ttlMs: 6_000 });
    const inner = await app.locks.acquire('nest', { owner: 'w1', reentrant: true, ttlMs: 300 });
    await inner.extend(300);
    await inner.release();
    await sleep(500); // time passing is the point: past the inner hold's TTL, the outer one must stand
    expect(outer.isHeld()).toBe(true);
    expect(await app.locks.tryAcquire('nest', { owner: 'w2' })).toBeNull();
    await outer.release();
    expect(await app.locks.isLocked('nest')).toBe(false);
  });

  it('does not trust a hand-off message processed after the lock could have expired', async () => {
    await app.close();
    app = await messageOnlyApp();
    const holder = await app.locks.acquire('paused', { ttlMs: 60_000, autoRenew: false });
    // Registered before the waiter's own handler: stalls the process when the grant arrives.
    let stalled = false;
    await app.store.listen(app.keys.channelPattern('_shared', 'lock'), (_channel, message) => {
      if (!stalled && message.startsWith('g|')) {
        stalled = true;
        blockFor(1_500);
      }
    });
    const waiting = app.locks.acquire('paused', { ttlMs: 1_000, waitMs: 20_000, autoRenew: false, owner: 'B' });
    await contended(app, 1);
    // Not observable from outside: give the waiter's first poll (right after subscribing) time to
    // finish, so only the hand-off message can wake it.
    await sleep(250);
    await holder.release();
    const b: Lock = await waiting;
    expect(stalled).toBe(true);
    const c = await app.locks.tryAcquire('paused', { owner: 'C', autoRenew: false });
    // Two holders at once is the failure: B believing it holds while C was granted the lock.
    expect(c !== null && b.isHeld()).toBe(false);
    if (b.isHeld()) expect(c).toBeNull();
    await c?.release();
    if (b.isHeld()) await b.release();
  });

  it('drops the writer-waiting flag of a writer that gave up, so readers are not turned away', async () => {
    const reader = await app.locks.acquireRead('doc', { ttlMs: 5_000 });
    await expect(app.locks.acquireWrite('doc', { waitMs: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
    await reader.release();
    const next = await app.locks.acquireRead('doc', { waitMs: 0 });
    expect(next.isHeld()).toBe(true);
    await next.release();
  });

  it('accepts a holder writing twice with its fencing token, and refuses an older token', async () => {
    const first = await app.locks.acquire('fenced-writes');
    await first.release();
    const second = await app.locks.acquire('fenced-writes');
    expect(await app.locks.checkFence('account', second.fencingToken)).toBe(true);
    expect(await app.locks.checkFence('account', second.fencingToken)).toBe(true);
    expect(await app.locks.checkFence('account', first.fencingToken)).toBe(false);
    expect(await app.locks.checkFence('account', second.fencingToken)).toBe(true);
    await second.release();
  });

  it('rounds a fractional extension up and rejects TTLs below the minimum', async () => {
    const lock = await app.locks.acquire('ttl', { ttlMs: 5_000, autoRenew: false });
    await lock.extend(1_500.5);
    expect(lock.isHeld()).toBe(true);
    for (const bad of [5, 0, -1, Number.NaN]) {
      const error = await lock.extend(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('ttlMs');
    }
    await expect(app.locks.acquire('ttl-short', { ttlMs: 5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await app.locks.isLocked('ttl-short')).toBe(false);
    expect(lock.isHeld()).toBe(true);
    await lock.release();
  });
}
