import { CoordinationError, LockLostError, type Lock } from '@nest-coordination/core';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { nextEvent, until } from '../support/wait.js';
import { lockTestApp, type LockTestApp } from './lock-test-app.js';

/** A promise and the function that resolves it. */
function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * Graceful shutdown of an instance holding locks under running sections: the sections are told
 * (their signal aborts) and awaited, and the lock is let go only once they returned; another
 * instance on the same Redis watches the lock meanwhile.
 */
describe.each(REDIS_DRIVERS)('locks at shutdown ($name)', (driver) => {
  let leaving: LockTestApp | undefined;
  let staying: LockTestApp;

  beforeEach(async () => {
    const prefix = uniquePrefix('shutdown');
    staying = await lockTestApp(driver, { prefix });
  });
  afterEach(async () => {
    await leaving?.close();
    leaving = undefined;
    await staying.close();
  });

  /** Starts a withLock section on `leaving` that runs until `finish` opens; resolves with its lock once inside. */
  async function section(app: LockTestApp, finish: Promise<void>, ttlMs = 30_000): Promise<{ lock: Lock; done: Promise<string> }> {
    const entered = gate<Lock>();
    const done = app.locks.withLock('crew', async (lock) => {
      entered.open(lock);
      await finish;
      return 'returned';
    }, { ttlMs, waitMs: 0 });
    done.catch(() => undefined); // awaited by the test; a rejection before then is not unhandled
    return { lock: await entered.promise, done };
  }

  it('aborts a running section\'s signal, refuses new acquisitions, and releases only after the section returned', async () => {
    leaving = await lockTestApp(driver, { prefix: staying.prefix });
    const finish = gate();
    const { lock, done } = await section(leaving, finish.promise);
    const aborted = nextEvent(lock.signal, 'abort', { timeoutMs: 5_000, message: 'the section\'s signal to abort at shutdown' });

    const closing = leaving.close();
    await aborted;
    expect(lock.signal.reason).toBeInstanceOf(CoordinationError);
    expect(lock.signal.reason).toMatchObject({ code: 'E_LOCK_SHUTDOWN', key: 'crew' });
    // The section is still running after close() began: the lock must still be held.
    expect(lock.isHeld()).toBe(true);
    expect(await staying.locks.isLocked('crew')).toBe(true);
    expect(await staying.locks.tryAcquire('crew')).toBeNull();
    const refused = await leaving.locks.acquire('other', { waitMs: 0 }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'E_LOCK_SHUTDOWN', key: 'other' });

    finish.open();
    expect(await done).toBe('returned');
    await closing;
    leaving = undefined;
    expect(await staying.locks.isLocked('crew')).toBe(false);
  });

  it('leaves the lock of a section that outlives shutdownGraceMs to expire by its TTL, never releasing it under the section', async () => {
    leaving = await lockTestApp(driver, { prefix: staying.prefix, locks: { shutdownGraceMs: 300 } });
    const finish = gate();
    const { lock, done } = await section(leaving, finish.promise, 3_000);
    let returned = false;
    void done.finally(() => (returned = true)).catch(() => undefined);

    await leaving.close();
    leaving = undefined;
    expect(returned).toBe(false);
    // Renewal stopped at the end of the grace period, so the 3 s lock runs out by itself.
    expect(await staying.locks.isLocked('crew')).toBe(true);
    expect(lock.signal.aborted).toBe(true);
    await until(async () => !(await staying.locks.isLocked('crew')), { timeoutMs: 10_000, message: 'the abandoned lock to expire by its TTL' });

    finish.open();
    await expect(done).rejects.toBeInstanceOf(LockLostError);
  });

  it('releases plain acquire() locks as their holders let go, and the rest once shutdownGraceMs ran out', async () => {
    leaving = await lockTestApp(driver, { prefix: staying.prefix, locks: { shutdownGraceMs: 300 } });
    const polite = await leaving.locks.acquire('polite');
    const stubborn = await leaving.locks.acquire('stubborn');
    const releasedOnSignal = nextEvent(polite.signal, 'abort', { timeoutMs: 5_000, message: 'the plain lock\'s signal to abort' })
      .then(async () => {
        expect(await staying.locks.isLocked('polite')).toBe(true);
        await polite.release();
      });

    await leaving.close();
    leaving = undefined;
    await releasedOnSignal;
    expect(stubborn.signal.reason).toMatchObject({ code: 'E_LOCK_SHUTDOWN', held: true });
    expect(await staying.locks.isLocked('polite')).toBe(false);
    expect(await staying.locks.isLocked('stubborn')).toBe(false);
  });

  it('leaves plain locks still held after shutdownGraceMs to expire when releaseOnShutdown is off', async () => {
    leaving = await lockTestApp(driver, { prefix: staying.prefix, locks: { shutdownGraceMs: 100, releaseOnShutdown: false } });
    const kept = await leaving.locks.acquire('kept', { ttlMs: 3_000 });
    await leaving.close();
    leaving = undefined;
    expect(kept.signal.aborted).toBe(true);
    expect(await staying.locks.isLocked('kept')).toBe(true);
    await until(async () => !(await staying.locks.isLocked('kept')), { timeoutMs: 10_000, message: 'the kept lock to expire by its TTL' });
  });
  it('ends waits in progress at shutdown, so the lock is never handed to the instance that is going away', async () => {
    leaving = await lockTestApp(driver, { prefix: staying.prefix });
    const held = await staying.locks.acquire('crew', { ttlMs: 30_000 });
    // A wait far longer than any shutdown: it must end because of the shutdown, not its waitMs.
    const waiting = leaving.locks.acquire('crew', { waitMs: 60_000 }).catch((error: unknown) => error);
    const queue = staying.keys.mutex(staying.core.tenants.resolve(undefined), 'crew').queue;
    await until(async () => (await staying.core.connection!.client.zcard(queue)) === 1, { timeoutMs: 5_000, message: 'the waiter to be queued' });

    await leaving.close();
    leaving = undefined;
    expect(await waiting).toMatchObject({ code: 'E_LOCK_SHUTDOWN', key: 'crew', held: false });
    // It left the queue: the release frees the lock instead of handing it to the closed instance.
    expect(await staying.core.connection!.client.zcard(queue)).toBe(0);
    await held.release();
    expect(await staying.locks.isLocked('crew')).toBe(false);
  });
});
