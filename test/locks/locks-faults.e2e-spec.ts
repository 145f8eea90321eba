import { CircuitOpenError, LockLostError, RedisUnavailableError } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import type { DriverCase } from '../support/drivers.js';
import { nextEvent, sleep, until } from '../support/wait.js';
import { contended, lockTestApp, type LockTestApp } from './lock-test-app.js';

const isOutage = (error: unknown) => error instanceof RedisUnavailableError || error instanceof CircuitOpenError;

/** A standalone app on a private server this test may pause or kill. */
function privateServer(server: RedisServerHandle, locks: object): DriverCase {
  return {
    name: 'standalone',
    options: () => ({
      connection: { url: server.url, commandTimeoutMs: 300, connectTimeoutMs: 500 },
      reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
      breaker: { openMs: 200 },
      locks,
    }),
  };
}

describe('locks when Redis fails mid-operation', () => {
  let server: RedisServerHandle;
  let app: LockTestApp | undefined;
  beforeEach(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    server.resume();
    await app?.close();
    app = undefined;
    await server.stop();
  });

  it('leaves no queue entry behind for a waiter that failed on a Redis error', async () => {
    // A lease of a minute: the entry can only be gone in time if the failed waiter removed it.
    app = await lockTestApp(privateServer(server, { fallbackPollMs: 200, waiterLeaseMs: 60_000 }));
    const holder = await app.locks.acquire('queue', { ttlMs: 60_000, autoRenew: false });
    // Subscribed up front, so the pause hits the waiter's commands, not its first PSUBSCRIBE.
    await app.store.listen(app.keys.channelPattern('_shared', 'lock'), () => undefined);
    const waiting = app.locks.acquire('queue', { ttlMs: 60_000, waitMs: 30_000, owner: 'gone' });
    await contended(app, 1);
    const queueKey = app.keys.mutex('_shared', 'queue').queue;
    const client = app.core.connection!.client;
    // The entry that must go: without it, an empty queue below would prove nothing.
    expect(await client.zrange(queueKey, '0', '-1')).toEqual([expect.stringMatching(/\|gone$/)]);
    // Not observable from outside: let the waiter get into its wait before the server stalls.
    await sleep(100);
    server.pause();
    expect(isOutage(await waiting.catch((e: unknown) => e))).toBe(true);
    server.resume();

    let queued = 1;
    await until(async () => (queued = await client.zcard(queueKey).catch(() => 1)) === 0, {
      timeoutMs: 15_000, intervalMs: 50, message: () => `the failed waiter's queue entry to go (${queued} left)`,
    });
    // Read again, entries and all: the waiter must not have put itself back.
    expect(await client.zrange(queueKey, '0', '-1')).toEqual([]);
    await holder.release();
    // Not handed to the waiter that has gone: free for the next one.
    expect(await app.locks.isLocked('queue')).toBe(false);
  }, 30_000);

  it('fires the signal at expiry and drops the lock from held() after a failed release', async () => {
    app = await lockTestApp(privateServer(server, {}));
    const lock = await app.locks.acquire('unreleased', { ttlMs: 1_000, autoRenew: false });
    const aborted = nextEvent(lock.signal, 'abort', { timeoutMs: 5_000, message: 'the lock signal to abort at expiry' });
    await server.kill();
    expect(isOutage(await lock.release().catch((e: unknown) => e))).toBe(true);
    await aborted;
    // Lost at expiry, not the release's Redis error passed through.
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lock.isHeld()).toBe(false);
    expect(app.locks.held()).toEqual([]);
  }, 30_000);
});
