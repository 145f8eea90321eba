import 'reflect-metadata';
import { CoordinationCore, normalizePolicy } from '../support/internals.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { ALL_ALGORITHMS, createRateLimitHarness, uniqueKey, type RateLimitHarness } from './rate-limit-harness.js';

/**
 * Production default: no clock configured, so the Redis scripts read the server's TIME. No
 * time is moved here, and windows are a day long so that no boundary of an aligned window
 * (fixed-window, sliding-window-approx: multiples of the window since the epoch) can
 * plausibly fall inside a test; the assertions hold anywhere inside one window.
 */
export function describeRateLimitDefaultClockContract(driver: DriverCase): void {
  describe(`rate limits on the default clock (${driver.name})`, () => {
    let h: RateLimitHarness;
    const DAY = 24 * 3_600_000;

    beforeAll(async () => {
      h = await createRateLimitHarness(driver, {}, { manualClock: false });
    });
    afterAll(async () => {
      await h.moduleRef.close();
    });

    it.each(ALL_ALGORITHMS)('%s allows up to the limit, then denies until a retry time within the window', async (algorithm) => {
      const k = uniqueKey(`${algorithm}-real`);
      const policy = { limit: 3, windowMs: DAY, algorithm };
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await h.service.consume(k, policy));
      expect(results.map((r) => [r.allowed, r.remaining, r.source])).toEqual([[true, 2, h.primary], [true, 1, h.primary], [true, 0, h.primary]]);
      const denied = await h.service.consume(k, policy);
      expect(denied).toMatchObject({ allowed: false, remaining: 0, source: h.primary });
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      expect(denied.retryAfterMs).toBeLessThanOrEqual(2 * DAY);
      expect(await h.service.consume(k, policy)).toMatchObject({ allowed: false, source: 'deny-cache' });
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: false, remaining: 0, source: h.primary });
      // the violation log (alert windows on the server clock too) recorded both denials
      expect((await h.service.getViolations({ key: k })).map((v) => v.source)).toEqual(['deny-cache', h.primary]);
    });

    if (driver.name !== 'memory') {
      it.each(ALL_ALGORITHMS)('%s: every key of a counter expires, no sooner than its quota resets', async (algorithm) => {
        const core = h.moduleRef.get(CoordinationCore);
        const k = uniqueKey(`${algorithm}-ttl`);
        const tenant = 'ttl';
        const started = performance.now();
        const result = await h.service.consume(k, { limit: 3, windowMs: DAY, algorithm, tenant });
        const pattern = core.keys.pattern(tenant, 'rl', k);
        const keys = await scanKeys(core, pattern);
        expect(keys.length).toBeGreaterThan(0);
        for (const counterKey of keys) {
          const pttl = await core.connection!.client.pttl(counterKey);
          // PTTL is read a few ms after the decision: add that time back (rounded up) before comparing.
          const elapsed = Math.ceil(performance.now() - started);
          expect(pttl).toBeGreaterThan(0);
          expect(pttl + elapsed).toBeGreaterThanOrEqual(result.resetAfterMs);
          expect(pttl).toBeLessThanOrEqual(2 * DAY + 1_000);
        }
      });
    }

    it('decides on the server clock on Redis (the system clock on memory)', async () => {
      const core = h.moduleRef.get(CoordinationCore);
      const serverUs = async (): Promise<number> => {
        if (!core.connection) return Date.now() * 1_000;
        const [s, us] = await core.connection.client.time();
        return Number(s) * 1_000_000 + Number(us);
      };
      const policy = normalizePolicy({ limit: 1, windowMs: DAY });
      const before = await serverUs();
      const reply = await h.store.check([`${uniquePrefix('rlclock')}:{k}`], [policy], 1, false);
      const after = await serverUs();
      expect(reply.nowUs).toBeGreaterThanOrEqual(before);
      expect(reply.nowUs).toBeLessThanOrEqual(after);
    });
  });
}
