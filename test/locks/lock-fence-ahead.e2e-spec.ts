import { REDIS_DRIVERS } from '../support/drivers.js';
import { lockTestApp, type LockTestApp } from './lock-test-app.js';

/**
 * A fence counter AHEAD of the server clock (a clock stepped back, a failover to a node whose
 * clock is behind): the next token is the counter + 1, not the clock, so tokens never go back.
 * Covers the `last + 1` branch of fence.lua and of mutex-fast-path.lua.
 */
describe.each(REDIS_DRIVERS)('fencing tokens with the counter ahead of the server clock ($name)', (driver) => {
  let app: LockTestApp;
  beforeEach(async () => {
    app = await lockTestApp(driver);
  });
  afterEach(() => app.close());

  it('issues counter + 1, then + 2, for every kind of lock, and keeps the counter TTL', async () => {
    const client = app.core.connection!.client;
    const { locks } = app;
    const kinds = [
      { fence: app.keys.mutex('_shared', 'ahead').fence, take: () => locks.acquire('ahead') },
      { fence: app.keys.semaphore('_shared', 'ahead').fence, take: () => locks.acquirePermit('ahead', { permits: 2 }) },
      { fence: app.keys.readWrite('_shared', 'ahead').fence, take: () => locks.acquireWrite('ahead') },
    ];
    for (const { fence, take } of kinds) {
      await (await take()).release(); // creates the counter, with its retention TTL
      const [seconds, micros] = await client.time();
      const ahead = Number(seconds) * 1_000_000 + Number(micros) + 1e9;
      expect(await client.set(fence, String(ahead), 'KEEPTTL')).toBe('OK');
      const first = await take();
      await first.release();
      const second = await take();
      await second.release();
      expect([first.fencingToken, second.fencingToken]).toEqual([ahead + 1, ahead + 2]);
      expect(Number(await client.get(fence))).toBe(ahead + 2);
      expect(await client.pttl(fence)).toBeGreaterThan(0); // the retention is kept
    }
  });
});
