import { LockLostError, LockService } from '@nest-coordination/core';
import { until } from '../support/wait.js';
import { partitionEnv, RECOVERY_MS } from './partition-pair.js';

/**
 * A lock holder cut off from Redis must learn that its lock is lost before Redis can grant the
 * lock to anyone else: its renewal deadline is its local expiry (the start of its last successful
 * renewal + TTL − clock drift), never later, whatever the command timeout.
 */
describe('a lock holder partitioned from Redis', () => {
  const env = partitionEnv();

  /**
   * A holds `key` with auto-renewal (TTL `ttlMs`), the link freezes (no reply, no error, like a
   * dropped route), B waits for the lock. Returns what happened, in the order the test process saw it.
   */
  async function partitionHolder(commandTimeoutMs: number, ttlMs: number) {
    const { a, b, proxy } = await env.boot({ connection: { commandTimeoutMs }, locks: { fallbackPollMs: 100 } });
    const [locksA, locksB] = [a.get(LockService), b.get(LockService)];
    const order: string[] = [];
    const held = await locksA.acquire('invoice:42', { ttlMs, autoRenew: true });
    held.signal.addEventListener('abort', () => order.push('A lost'));
    // A renews for a while first: the partition hits a lock that was being kept alive.
    await until(() => held.renewals >= 2, { timeoutMs: RECOVERY_MS, message: 'two renewals by A' });

    proxy.freeze();
    const granted = locksB.acquire('invoice:42', { ttlMs, waitMs: RECOVERY_MS }).then((lock) => {
      order.push('B granted');
      return lock;
    });
    const lockB = await granted;
    await until(() => order.includes('A lost'), { timeoutMs: RECOVERY_MS, message: "A's signal to abort" });
    // B writes under its token; A, back on the network, is refused.
    expect(await locksB.checkFence('invoice:42', lockB.fencingToken)).toBe(true);
    proxy.restore();
    expect(await until(() => locksA.checkFence('invoice:42', held.fencingToken).then((ok) => ok === false ? 'refused' : 'accepted', () => ''), {
      timeoutMs: RECOVERY_MS, message: "A's stale fence check to get an answer",
    })).toBe('refused');
    await expect(held.release()).rejects.toBeInstanceOf(LockLostError);
    await lockB.release();
    expect(a.core.metrics.counter('lock_lost_total', { kind: 'mutex' })).toBe(1);
    return { order, held, lockB };
  }

  it.each([
    ['shorter than the TTL', 300, 1_500],
    ['longer than the TTL (a renewal that hangs past the expiry)', 5_000, 1_500],
  ])('reports the lock lost before B is granted it, command timeout %s', async (_label, commandTimeoutMs, ttlMs) => {
    const { order, held, lockB } = await partitionHolder(commandTimeoutMs, ttlMs);
    expect(order).toEqual(['A lost', 'B granted']);
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
    expect(held.isHeld()).toBe(false);
    expect(lockB.fencingToken).toBeGreaterThan(held.fencingToken);
  });
});
