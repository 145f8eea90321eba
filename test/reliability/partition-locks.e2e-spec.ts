import { LeaderService, LockLostError, LockService } from '@nest-coordination/core';
import { until } from '../support/wait.js';
import { partitionEnv, RECOVERY_MS } from './partition-pair.js';
import { TENANT } from './partition-services.js';

/**
 * A lock holder or a leader cut off from Redis must learn that its lock (its term) is over
 * before Redis can grant it to anyone else: its deadline is its local expiry (the start of its
 * last successful renewal + TTL − clock drift), never later, whatever the command timeout.
 */
describe('a lock holder or leader partitioned from Redis', () => {
  const env = partitionEnv();

  /**
   * A holds `key` with auto-renewal (TTL `ttlMs`), renews once over a slow link, then the link
   * freezes (no reply, no error, like a dropped route) and B waits for the lock. Returns what
   * happened, in the order the test process saw it.
   */
  async function partitionHolder(commandTimeoutMs: number, ttlMs: number) {
    const { a, b, proxy } = await env.boot({ connection: { commandTimeoutMs }, locks: { fallbackPollMs: 100 } });
    const [locksA, locksB] = [a.get(LockService), b.get(LockService)];
    const order: string[] = [];
    const held = await locksA.acquire('invoice:42', { ttlMs, autoRenew: true });
    held.signal.addEventListener('abort', () => order.push('A lost'));
    // A renews for a while first: the partition hits a lock that was being kept alive.
    await until(() => held.renewals >= 2, { timeoutMs: RECOVERY_MS, message: 'two renewals by A' });

    // A slow link first: the last renewal that gets through runs in Redis 100 ms after A sent it
    // and is answered 200 ms after. A must count the TTL from the send (Redis started it later),
    // not from the reply, or it would believe it holds the lock after Redis let it expire.
    proxy.delay(100);
    const renewed = held.renewals;
    await until(() => held.renewals >= renewed + 1, { timeoutMs: RECOVERY_MS, message: 'a renewal over the slow link' });
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
    ['shorter than the TTL', 500, 1_500],
    ['longer than the TTL (a renewal that hangs past the expiry)', 5_000, 1_500],
  ])('reports the lock lost before B is granted it, command timeout %s', async (_label, commandTimeoutMs, ttlMs) => {
    const { order, held, lockB } = await partitionHolder(commandTimeoutMs, ttlMs);
    expect(order).toEqual(['A lost', 'B granted']);
    expect(held.signal.reason).toBeInstanceOf(LockLostError);
    expect(held.isHeld()).toBe(false);
    expect(lockB.fencingToken).toBeGreaterThan(held.fencingToken);
  });

  it("ends a leader's term (its signal aborts, isLeader turns false) before B is elected, its last renewal answered late, the next one hanging past the lease", async () => {
    const { a, b, proxy } = await env.boot({ connection: { commandTimeoutMs: 5_000 } });
    const [leadersA, leadersB] = [a.get(LeaderService), b.get(LeaderService)];
    const order: string[] = [];
    const termA = await leadersA.campaign('billing', { leaseMs: 1_500, ...TENANT }).elected();
    termA.signal.addEventListener('abort', () => order.push('A term ended'));
    const electedB = leadersB.campaign('billing', { leaseMs: 1_500, ...TENANT }).elected().then((term) => {
      order.push('B elected');
      return term;
    });
    const before = await leadersB.leader('billing', TENANT);
    expect(before).toMatchObject({ self: false, fencingToken: termA.fencingToken });

    // A slow link first, as for the lock: the last renewal that gets through runs in Redis 100 ms
    // after A sent it. Seen from B once Redis ran it (the lease's end moves by a renewal period,
    // 500 ms); its reply reaches A before the reply to A's next command on the same connection.
    proxy.delay(100);
    await until(async () => (await leadersB.leader('billing', TENANT))!.expiresAt.getTime() > before!.expiresAt.getTime() + 250, {
      timeoutMs: RECOVERY_MS, message: "A's renewal over the slow link to run in Redis",
    });
    await leadersA.leader('billing', TENANT);
    await new Promise((resolve) => setImmediate(resolve)); // A handles the renewal's reply
    proxy.freeze();
    const termB = await electedB;
    await until(() => order.includes('A term ended'), { timeoutMs: RECOVERY_MS, message: "A's term to end" });
    expect(order).toEqual(['A term ended', 'B elected']);
    expect(leadersA.isLeader('billing', TENANT)).toBe(false);
    expect(termB.fencingToken).toBeGreaterThan(termA.fencingToken);

    // A, back on the network, stands by: B leads.
    proxy.restore();
    expect(await until(() => leadersA.leader('billing', TENANT).catch(() => null), {
      timeoutMs: RECOVERY_MS, message: 'A to read who leads after restore()',
    })).toMatchObject({ self: false, fencingToken: termB.fencingToken });
    expect(leadersA.isLeader('billing', TENANT)).toBe(false);
  });
});
