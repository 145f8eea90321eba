import 'reflect-metadata';
import { CoordinationCore } from '../support/internals.js';
import { createRateLimitHarness, type RateLimitHarness } from '../contract/rate-limit-harness.js';
import { DRIVERS } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';

const RETENTION = 60_000;
const policy = { limit: 1, windowMs: 60_000 };
let seq = 0;

/**
 * Two consumes of a fresh key: the second is a violation of `tenant`. Reading the log flushes
 * the recorder, so the violation is stored now, before a test moves the clock.
 */
async function violate(h: RateLimitHarness, tenant: string): Promise<string> {
  const k = `retention:${++seq}`;
  await h.service.consume(k, { ...policy, tenant });
  await h.service.consume(k, { ...policy, tenant });
  await h.service.getViolations({ tenant, key: k });
  return k;
}

describe.each(DRIVERS)('rate-limit violation log on $name', (driver) => {
  let h: RateLimitHarness;

  beforeAll(async () => {
    h = await createRateLimitHarness(driver, { rateLimit: { violations: { retentionMs: RETENTION } } });
  });
  afterAll(async () => {
    await h.moduleRef.close();
  });

  if (driver.name === 'memory') {
    it('drops a tenant log once nothing was appended to it for retentionMs', async () => {
      const k = await violate(h, 'stale');
      expect(await h.service.getViolations({ tenant: 'stale', key: k })).toHaveLength(1);
      h.advance(RETENTION - 1);
      const fresh = await violate(h, 'fresh'); // another tenant's append does not keep `stale` alive
      expect(await h.service.getViolations({ tenant: 'stale', key: k })).toHaveLength(1);
      h.advance(1);
      expect(await h.service.getViolations({ tenant: 'stale' })).toEqual([]);
      expect(await h.service.getViolations({ tenant: 'fresh', key: fresh })).toHaveLength(1);
      // an append restarts the retention of that tenant
      const again = await violate(h, 'fresh');
      h.advance(RETENTION - 1);
      expect(await h.service.getViolations({ tenant: 'fresh' })).toHaveLength(2);
      expect((await h.service.getViolations({ tenant: 'fresh' })).map((v) => v.key)).toEqual([again, fresh]);
      h.advance(1);
      expect(await h.service.getViolations({ tenant: 'fresh' })).toEqual([]);
    });
  } else {
    it('keys each tenant log by the tenant (own hash tag) and expires it after retentionMs', async () => {
      const core = h.moduleRef.get(CoordinationCore);
      const client = core.connection!.client;
      const tenants = ['acme', 'globex'];
      const keysOf = new Map<string, string[]>();
      for (const tenant of tenants) {
        await violate(h, tenant);
        expect(await h.service.getViolations({ tenant })).toHaveLength(1);
        keysOf.set(tenant, await scanKeys(core, core.keys.pattern(tenant, 'ratelimit-log')));
      }
      const tagOf = (key: string) => /\{([^}]*)\}/.exec(key)![1];
      for (const tenant of tenants) {
        const keys = keysOf.get(tenant)!;
        expect(keys).toHaveLength(2); // the log and the alert counters
        expect(keys.map(tagOf)).toEqual([tenant, tenant]);
        const log = keys.find((key) => key.endsWith(`{${tenant}}`))!;
        expect(await client.type(log)).toBe('list');
        const pttl = await client.pttl(log);
        expect(pttl).toBeGreaterThan(0);
        expect(pttl).toBeLessThanOrEqual(RETENTION);
      }
      if (driver.name === 'cluster') {
        const slot = (key: string) => client.call('CLUSTER', 'KEYSLOT', key) as Promise<number>;
        const [a, b] = tenants.map((t) => keysOf.get(t)!);
        expect(await slot(a[0])).toBe(await slot(a[1]));
        expect(await slot(b[0])).toBe(await slot(b[1]));
        expect(await slot(a[0])).not.toBe(await slot(b[0]));
      }
    });
  }
});
