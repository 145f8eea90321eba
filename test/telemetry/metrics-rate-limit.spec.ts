import 'reflect-metadata';
// Metrics of rate-limit decisions: by policy, outcome (allowed / denied) and the source that
// answered, fallback answers (local limiter, fail-closed) included.
import { RateLimitService, type RateLimitPolicy } from '@nest-coordination/core';
import { MAX_ATTRIBUTE_VALUES } from '../../libs/coordination/src/telemetry/tenant-attributes.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { privateServerPerTest } from '../support/private-server.js';
import { until } from '../support/wait.js';

const WAIT = { timeoutMs: 15_000 };
const API: RateLimitPolicy = { name: 'api', limit: 2, windowMs: 60_000 };
const BURST: RateLimitPolicy = { name: 'burst', limit: 10, windowMs: 1_000 };
const GLOBAL: RateLimitPolicy = { name: 'global', limit: 100, windowMs: 60_000 };
const GLOBAL_ONE: RateLimitPolicy = { name: 'global-one', limit: 1, windowMs: 60_000 };

describe.each(DRIVERS)('rate-limit decisions on $name', (driver) => {
  let app: BootedModule;
  const source = driver.name === 'memory' ? 'memory' : 'redis';

  afterEach(async () => {
    await app?.close();
  });

  it('counts consuming decisions by policy, outcome and source; peeks are no decision', async () => {
    app = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, rateLimit: { heartbeatIntervalMs: 0 } });
    const limits = app.get(RateLimitService);
    const { metrics } = app.core;
    const allowed = (policy: string, from = source) => metrics.counter('ratelimit_allowed_total', { policy, source: from });
    const denied = (policy: string, from = source) => metrics.counter('ratelimit_denied_total', { policy, source: from });
    const checks = (outcome: 'allowed' | 'denied', from = source) => metrics.counter('ratelimit_checks_total', { outcome, source: from });

    await limits.consume('ada', { ...API, tenant: 'acme' });
    await limits.consume('ada', { ...API, tenant: 'acme' });
    await limits.peek('ada', { ...API, tenant: 'acme' });
    expect(allowed('api')).toBe(2);
    expect(checks('allowed')).toBe(2);
    expect((await limits.consume('ada', { ...API, tenant: 'acme' })).allowed).toBe(false);
    expect(denied('api')).toBe(1);
    expect(checks('denied')).toBe(1);
    // The next denial of the blocked key is answered by this instance's deny cache.
    expect(await limits.consume('ada', { ...API, tenant: 'acme' })).toMatchObject({ allowed: false, source: 'deny-cache' });
    expect(denied('api', 'deny-cache')).toBe(1);
    expect(checks('denied', 'deny-cache')).toBe(1);

    // consumeMany: an allowed decision counts for each policy it included, a denial for the
    // violated one; the checks counter counts each check once, whatever its number of policies.
    await limits.consumeMany([{ key: 'bob', policy: API }, { key: 'bob', policy: BURST }], { tenant: 'acme' });
    expect(allowed('api')).toBe(3);
    expect(allowed('burst')).toBe(1);
    expect(checks('allowed')).toBe(3);
    await limits.consumeMany([{ key: 'bob', policy: BURST }, { key: 'bob', policy: API }], { tenant: 'acme' });
    expect((await limits.consumeMany([{ key: 'bob', policy: BURST }, { key: 'bob', policy: API }], { tenant: 'acme' })).allowed).toBe(false);
    expect(denied('api')).toBe(2);
    expect(denied('burst')).toBe(0);
    expect(allowed('burst')).toBe(2);
    expect(checks('allowed')).toBe(4);
    expect(checks('denied')).toBe(2);

    // A check mixing global and tenant counters is decided in two calls: both parts count.
    await limits.consumeMany([{ key: 'carl', policy: API }, { key: 'everyone', policy: GLOBAL, global: true }], { tenant: 'acme' });
    expect(allowed('api')).toBe(5);
    expect(allowed('global')).toBe(1);
    expect(checks('allowed')).toBe(5);
    // Its second call denied: the check is denied, and the first call's policies count no allowed decision.
    await limits.consumeMany([{ key: 'dan', policy: API }, { key: 'everyone', policy: GLOBAL_ONE, global: true }], { tenant: 'acme' });
    expect(allowed('global-one')).toBe(1);
    const split = await limits.consumeMany([{ key: 'erin', policy: API }, { key: 'everyone', policy: GLOBAL_ONE, global: true }], { tenant: 'acme' });
    expect(split).toMatchObject({ allowed: false, violated: { policy: 'global-one' } });
    expect(allowed('api')).toBe(6);
    expect(denied('global-one')).toBe(1);
    expect(checks('allowed')).toBe(6);
    expect(checks('denied')).toBe(3);
  });

  it(`keeps at most ${MAX_ATTRIBUTE_VALUES} policy names per counter: later ones count as _other`, async () => {
    app = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, rateLimit: { heartbeatIntervalMs: 0 } });
    const limits = app.get(RateLimitService);
    // Unnamed policies are named after their limit and window: one name per distinct limit.
    for (let limit = 1; limit <= MAX_ATTRIBUTE_VALUES + 5; limit++) await limits.consume(`user-${limit}`, { limit, windowMs: 60_000, tenant: 'acme' });
    const series = app.core.metrics.snapshot().counters.filter((c) => c.name === 'ratelimit_allowed_total');
    expect(series).toHaveLength(MAX_ATTRIBUTE_VALUES + 1);
    expect(app.core.metrics.counter('ratelimit_allowed_total', { policy: '1-per-60000ms', source })).toBe(1);
    expect(app.core.metrics.counter('ratelimit_allowed_total', { policy: '_other', source })).toBe(5);
    expect(app.core.metrics.counter('ratelimit_checks_total', { outcome: 'allowed', source })).toBe(MAX_ATTRIBUTE_VALUES + 5);
  });
});

describe('rate-limit fallback answers while Redis is down', () => {
  const env = privateServerPerTest();

  async function bootOn(onRedisUnavailable: 'local' | 'fail-closed'): Promise<{ limits: RateLimitService; metrics: BootedModule['core']['metrics'] }> {
    const app = await env.boot({
      health: { pingIntervalMs: 0 },
      rateLimit: { onRedisUnavailable, heartbeatIntervalMs: 0 },
    });
    const limits = app.get(RateLimitService);
    expect(await limits.consume('ada', { ...API, tenant: 'acme' })).toMatchObject({ allowed: true, source: 'redis' });
    await env.server.kill();
    await until(() => app.core.connection!.client.status !== 'ready', { ...WAIT, message: 'the connection to be lost' });
    return { limits, metrics: app.core.metrics };
  }

  it('counts the local limiter answers by policy and outcome, and each check the failure policy answered', async () => {
    const { limits, metrics } = await bootOn('local');
    // The local limiter counts afresh: its whole limit (2) is left, then it denies.
    expect(await limits.consume('ada', { ...API, tenant: 'acme' })).toMatchObject({ allowed: true, source: 'local' });
    expect(await limits.consume('ada', { ...API, tenant: 'acme' })).toMatchObject({ allowed: true, source: 'local' });
    expect(await limits.consume('ada', { ...API, tenant: 'acme' })).toMatchObject({ allowed: false, source: 'local' });
    expect(metrics.counter('ratelimit_allowed_total', { policy: 'api', source: 'local' })).toBe(2);
    expect(metrics.counter('ratelimit_denied_total', { policy: 'api', source: 'local' })).toBe(1);
    expect(metrics.counter('ratelimit_redis_unavailable_total', { mode: 'local' })).toBe(3);
    expect(metrics.counter('ratelimit_allowed_total', { policy: 'api', source: 'redis' })).toBe(1);
    expect(metrics.counter('ratelimit_checks_total', { outcome: 'allowed', source: 'local' })).toBe(2);
    expect(metrics.counter('ratelimit_checks_total', { outcome: 'denied', source: 'local' })).toBe(1);
  });

  it('counts fail-closed answers as denials of the policy', async () => {
    const { limits, metrics } = await bootOn('fail-closed');
    expect(await limits.consume('ada', { ...API, tenant: 'acme' })).toMatchObject({ allowed: false, source: 'fail-closed' });
    expect(metrics.counter('ratelimit_denied_total', { policy: 'api', source: 'fail-closed' })).toBe(1);
    expect(metrics.counter('ratelimit_checks_total', { outcome: 'denied', source: 'fail-closed' })).toBe(1);
    expect(metrics.counter('ratelimit_redis_unavailable_total', { mode: 'fail-closed' })).toBe(1);
    // A peek is no decision, even failing closed.
    expect(await limits.peek('ada', { ...API, tenant: 'acme' })).toMatchObject({ allowed: false, source: 'fail-closed' });
    expect(metrics.counter('ratelimit_denied_total', { policy: 'api', source: 'fail-closed' })).toBe(1);
    expect(metrics.counter('ratelimit_checks_total', { outcome: 'denied', source: 'fail-closed' })).toBe(1);
    expect(metrics.counter('ratelimit_redis_unavailable_total', { mode: 'fail-closed' })).toBe(2);
  });
});
