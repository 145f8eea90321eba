import { Redis } from 'ioredis';
import type { Lock } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { until } from '../support/wait.js';
import { LockWakeups } from '../../libs/coordination/src/locks/lock-wakeups.js';
import { contended, lockTestApp, type LockTestApp } from './lock-test-app.js';

/**
 * The wake-up subscriptions of lock waiters, counted on a private server (PUBSUB NUMPAT is
 * server-wide: the shared one carries other files' subscriptions).
 */
describe('lock wake-up subscriptions (private standalone Redis)', () => {
  let server: RedisServerHandle;
  let probe: Redis;
  let app: LockTestApp | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    probe = new Redis(server.url);
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    probe.disconnect();
    await server.stop();
  });

  const numpat = async () => Number(await probe.call('PUBSUB', 'NUMPAT'));
  /** Polls a minute apart: a waiter that gets the lock in time got it from a wake-up message. */
  const boot = () => lockTestApp({ name: 'standalone', options: () => ({ connection: { url: server.url }, locks: { fallbackPollMs: 60_000 } }) });

  /** In each tenant: one holder, one waiter; then every lock released. */
  async function waitOnce(tenants: string[]): Promise<void> {
    const holders = await Promise.all(tenants.map((tenant) => app!.locks.acquire('report', { tenant, autoRenew: false })));
    const waiting = tenants.map((tenant) => app!.locks.acquire('report', { tenant, waitMs: 20_000, autoRenew: false }));
    await contended(app!, tenants.length);
    await Promise.all(holders.map((lock) => lock.release()));
    const granted: Lock[] = await Promise.all(waiting);
    await Promise.all(granted.map((lock) => lock.release()));
  }

  it("unsubscribes a tenant's wake-up pattern once its last waiter is done, and subscribes again for the next", async () => {
    app = await boot();
    const baseline = await numpat();
    const tenants = Array.from({ length: 40 }, (_, i) => `tenant-${i}`);
    await waitOnce(tenants);
    // Unsubscribed UNSUBSCRIBE_AFTER_MS (2 s) after each tenant's last waiter: awaited, not slept.
    let now = -1;
    await until(async () => (now = await numpat()) === baseline, {
      timeoutMs: 10_000, message: () => `PUBSUB NUMPAT back at its baseline ${baseline} (now ${now})`,
    });

    // A later wait in one of those tenants subscribes again, and is woken by the hand-off message.
    await waitOnce(['tenant-7']);
    await until(async () => (now = await numpat()) === baseline, {
      timeoutMs: 10_000, message: () => `PUBSUB NUMPAT back at its baseline ${baseline} (now ${now})`,
    });
  }, 60_000);

  it("subscribes again for a waiter that arrives while the last one's PUNSUBSCRIBE is in flight", async () => {
    app = await boot();
    const baseline = await numpat();
    const wakeups = new LockWakeups(app.store, 0);
    const pattern = app.keys.channelPattern('late', 'lock');
    const channel = app.keys.mutex('late', 'report').channel;
    const last = wakeups.hold(pattern);
    expect(await last.ready).toBe(true);
    last.release(); // sends the PUNSUBSCRIBE; its reply cannot have been read before the next line
    const arriving = wakeups.hold(pattern);
    const received: string[] = [];
    const unregister = wakeups.register(channel, (message) => received.push(message));
    try {
      expect(await arriving.ready).toBe(true);
      expect(await numpat()).toBe(baseline + 1);
      await probe.publish(channel, 'f');
      await until(() => received.length > 0, { timeoutMs: 5_000, message: 'the message on the re-subscribed pattern' });
      expect(received).toEqual(['f']);
    } finally {
      unregister();
      arriving.release();
    }
    let now = -1;
    await until(async () => (now = await numpat()) === baseline, {
      timeoutMs: 10_000, message: () => `PUBSUB NUMPAT back at its baseline ${baseline} (now ${now})`,
    });
  });
  it('subscribes its wake-up pattern again after the subscriber connection comes back, so a waiter is still woken', async () => {
    app = await boot();
    const baseline = await numpat();
    const holder = await app.locks.acquire('report', { tenant: 'dropped', autoRenew: false });
    const waiting = app.locks.acquire('report', { tenant: 'dropped', waitMs: 20_000, autoRenew: false });
    await contended(app, 1);
    expect(await numpat()).toBe(baseline + 1);
    // The subscriber connection drops (a network blip, a failover): its subscriptions are gone with it.
    await probe.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    let now = -1;
    await until(async () => (now = await numpat()) === baseline + 1 && app!.core.connection!.subscriber().status === 'ready', {
      timeoutMs: 10_000, message: () => `the wake-up pattern subscribed again (PUBSUB NUMPAT ${now}, baseline ${baseline})`,
    });
    await holder.release();
    // Polling is a minute apart: only the hand-off message on the re-subscribed pattern wakes it in time.
    const granted = await waiting;
    await granted.release();
  }, 30_000);
});
