import 'reflect-metadata';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  CacheService, EventBus, LockService, RateLimitService, RateLimitedError, SessionService, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { createHash } from 'node:crypto';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { TestSpans, isChildOf, useAsyncContext } from '../support/otel-traces.js';
import { rejectionOf } from '../support/wait.js';

useAsyncContext();

const TENANT = 'acme';
const MINUTE = 60_000;
/** The memory driver and a standalone Redis: what a span says must not depend on the store. */
const CASES = DRIVERS.filter((d) => d.name !== 'cluster');

describe.each(CASES)('spans of the request-path capabilities ($name)', (driver) => {
  const driverName = driver.name === 'memory' ? 'memory' : 'redis';
  let otel: TestSpans;
  let booted: BootedModule;

  const boot = (telemetry: CoordinationModuleOptions['telemetry'] = {}) =>
    bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider, ...telemetry } });

  beforeAll(async () => {
    otel = new TestSpans();
    booted = await boot();
  });

  afterAll(async () => {
    await booted?.close();
    await otel?.shutdown();
  });

  beforeEach(() => otel.reset());

  /** A span the test's own code makes where the library runs user code, to see where it nests. */
  const userSpan = (name: string) => otel.provider.getTracer('user').startSpan(name).end();

  describe('locks', () => {
    it('lock.acquire carries the kind and fencing token; lock.extend and lock.release name the hold', async () => {
      const locks = booted.get(LockService);
      const lock = await locks.acquire('invoice:1', { tenant: TENANT, ttlMs: 5_000 });
      await lock.extend(5_000);
      await lock.release();
      const acquire = otel.one('lock.acquire', { 'coordination.key': 'invoice:1' });
      expect(acquire.attributes).toEqual({
        'coordination.tenant': TENANT, 'coordination.key': 'invoice:1', 'coordination.driver': driverName,
        'coordination.lock.kind': 'mutex', 'coordination.lock.acquired': true, 'coordination.lock.fencing_token': lock.fencingToken,
      });
      expect(acquire.kind).toBe(SpanKind.INTERNAL);
      for (const name of ['lock.extend', 'lock.release']) {
        expect(otel.one(name, { 'coordination.key': 'invoice:1' }).attributes).toMatchObject({
          'coordination.tenant': TENANT, 'coordination.lock.fencing_token': lock.fencingToken,
        });
      }
      expect(otel.all().every((s) => s.status.code === SpanStatusCode.UNSET)).toBe(true);
    });

    it('lock.withLock holds the section: acquire, the callback and release are its children', async () => {
      await booted.get(LockService).withLock('invoice:2', async () => userSpan('user.section'), { tenant: TENANT });
      const section = otel.one('lock.withLock', { 'coordination.key': 'invoice:2', 'coordination.tenant': TENANT });
      expect(isChildOf(otel.one('user.section'), section)).toBe(true);
      expect(isChildOf(otel.one('lock.acquire', { 'coordination.key': 'invoice:2' }), section)).toBe(true);
      expect(isChildOf(otel.one('lock.release', { 'coordination.key': 'invoice:2' }), section)).toBe(true);
    });

    it('a lock not acquired in time is an outcome (acquired: false), not an error', async () => {
      const locks = booted.get(LockService);
      const holder = await locks.acquire('busy', { tenant: TENANT });
      try {
        expect(await locks.tryAcquire('busy', { tenant: TENANT })).toBeNull();
      } finally {
        await holder.release();
      }
      const [, refused] = otel.named('lock.acquire', { 'coordination.key': 'busy' });
      expect(refused.attributes['coordination.lock.acquired']).toBe(false);
      expect(refused.attributes['coordination.lock.fencing_token']).toBeUndefined();
      expect(refused.status.code).toBe(SpanStatusCode.UNSET);
    });

    it('permits, reads and writes are lock.acquire spans of their kind', async () => {
      const locks = booted.get(LockService);
      await (await locks.acquirePermit('llm', { permits: 2, tenant: TENANT })).release();
      await (await locks.acquireRead('doc', { tenant: TENANT })).release();
      await (await locks.acquireWrite('doc', { tenant: TENANT })).release();
      expect(otel.named('lock.acquire').map((s) => [s.attributes['coordination.key'], s.attributes['coordination.lock.kind']])).toEqual([
        ['llm', 'permit'], ['doc', 'read'], ['doc', 'write'],
      ]);
      expect(otel.named('lock.release')).toHaveLength(3);
    });
  });

  describe('rate limits', () => {
    it('ratelimit.consume says whether it allowed; a denial (also by enforce) is an outcome, not an error', async () => {
      const limits = booted.get(RateLimitService);
      const policy = { limit: 1, windowMs: MINUTE, tenant: TENANT };
      await limits.consume('user:1', policy);
      await limits.consume('user:1', policy);
      expect(await rejectionOf(limits.enforce('user:1', policy))).toBeInstanceOf(RateLimitedError);
      const spans = otel.named('ratelimit.consume', { 'coordination.key': 'user:1' });
      expect(spans.map((s) => s.attributes['coordination.ratelimit.allowed'])).toEqual([true, false, false]);
      expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
      expect(spans[0].attributes).toMatchObject({
        'coordination.tenant': TENANT, 'coordination.driver': driverName, 'coordination.ratelimit.policy': '1-per-60000ms',
        'coordination.ratelimit.remaining': 0, 'coordination.ratelimit.source': driverName,
      });
    });

    it('consumeMany is one ratelimit.consume span counting its checks, naming the key that denied', async () => {
      const limits = booted.get(RateLimitService);
      const checks = [
        { key: 'user:2', policy: { name: 'user', limit: 5, windowMs: MINUTE } },
        { key: 'company', policy: { name: 'company', limit: 1, windowMs: MINUTE } },
      ];
      await limits.consumeMany(checks, { tenant: TENANT });
      await limits.consumeMany(checks, { tenant: TENANT });
      const spans = otel.named('ratelimit.consume', { 'coordination.ratelimit.checks': 2 });
      expect(spans.map((s) => s.attributes['coordination.ratelimit.allowed'])).toEqual([true, false]);
      expect(spans[1].attributes).toMatchObject({ 'coordination.ratelimit.policy': 'company', 'coordination.ratelimit.violated_key': 'company' });
      expect(spans.every((s) => s.attributes['coordination.key'] === undefined)).toBe(true);
    });

    it('ratelimit.peek and ratelimit.reset', async () => {
      const limits = booted.get(RateLimitService);
      await limits.peek('user:3', { limit: 1, windowMs: MINUTE, tenant: TENANT });
      await limits.reset('user:3', { limit: 1, windowMs: MINUTE, tenant: TENANT });
      expect(otel.one('ratelimit.peek', { 'coordination.key': 'user:3' }).attributes['coordination.ratelimit.allowed']).toBe(true);
      expect(otel.one('ratelimit.reset', { 'coordination.key': 'user:3', 'coordination.tenant': TENANT })).toBeDefined();
    });
  });

  describe('cache', () => {
    it('cache.get says hit or miss; cache.set, cache.delete and cache.invalidateTags name what they touch', async () => {
      const cache = booted.get(CacheService);
      await cache.get('plan', { tenant: TENANT });
      await cache.set('plan', 'pro', { tenant: TENANT, tags: ['plans'] });
      await cache.get('plan', { tenant: TENANT });
      await cache.delete('plan', { tenant: TENANT });
      await cache.invalidateTags(['plans'], { tenant: TENANT });
      expect(otel.named('cache.get', { 'coordination.key': 'plan' }).map((s) => s.attributes['coordination.cache.hit'])).toEqual([false, true]);
      expect(otel.one('cache.set', { 'coordination.key': 'plan', 'coordination.tenant': TENANT, 'coordination.driver': driverName })).toBeDefined();
      expect(otel.one('cache.delete', { 'coordination.key': 'plan' }).attributes['coordination.cache.deleted']).toBe(1);
      expect(otel.one('cache.invalidateTags', { 'coordination.key': 'plans', 'coordination.cache.tags': 1 })).toBeDefined();
      expect(otel.all().every((s) => s.status.code === SpanStatusCode.UNSET)).toBe(true);
    });

    it('cache.getOrSet says how it answered; on a miss the loader runs in a cache.load child span', async () => {
      const cache = booted.get(CacheService);
      const load = async () => {
        userSpan('db.query');
        return { crew: 7 };
      };
      expect(await cache.getOrSet('crew:7', load, { tenant: TENANT })).toEqual({ crew: 7 });
      expect(await cache.getOrSet('crew:7', load, { tenant: TENANT })).toEqual({ crew: 7 });
      const [miss, hit] = otel.named('cache.getOrSet', { 'coordination.key': 'crew:7' });
      expect([miss.attributes['coordination.cache.state'], miss.attributes['coordination.cache.hit']]).toEqual(['miss', false]);
      expect([hit.attributes['coordination.cache.state'], hit.attributes['coordination.cache.hit']]).toEqual(['hit', true]);
      const loaded = otel.one('cache.load', { 'coordination.key': 'crew:7' });
      expect(isChildOf(loaded, miss)).toBe(true);
      expect(isChildOf(otel.one('db.query'), loaded)).toBe(true);
    });

    it('records a loader that throws as an error on cache.load and cache.getOrSet', async () => {
      const failure = new Error('database down');
      expect(await rejectionOf(booted.get(CacheService).getOrSet('crew:8', async () => { throw failure; }, { tenant: TENANT }))).toBe(failure);
      for (const name of ['cache.load', 'cache.getOrSet']) {
        const span = otel.one(name, { 'coordination.key': 'crew:8' });
        expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'database down' });
        expect(span.events.map((e) => e.name)).toEqual(['exception']);
      }
    });
  });

  describe('sessions', () => {
    it('session.create / get / update / destroy carry the session handle, never its id (a bearer secret)', async () => {
      const sessions = booted.get(SessionService);
      const session = await sessions.create('ada', { theme: 'dark' }, { tenant: TENANT });
      await sessions.get(session.id, { tenant: TENANT });
      await sessions.update(session.id, { theme: 'light' }, { tenant: TENANT });
      await sessions.destroy(session.id, { tenant: TENANT });
      await sessions.get(session.id, { tenant: TENANT });
      for (const name of ['session.create', 'session.update', 'session.destroy']) {
        expect(otel.one(name, { 'coordination.key': session.handle, 'coordination.tenant': TENANT })).toBeDefined();
      }
      expect(otel.named('session.get', { 'coordination.key': session.handle }).map((s) => s.attributes['coordination.session.found'])).toEqual([true, false]);
      expect(otel.one('session.destroy').attributes['coordination.session.destroyed']).toBe(true);
      expect(JSON.stringify(otel.all().map((s) => s.attributes))).not.toContain(session.id);
    });
  });

  describe('events', () => {
    it('events.publish names the channel', async () => {
      await booted.get(EventBus).publish('crew.started', { crewId: 'c1' }, { tenant: TENANT });
      expect(otel.one('events.publish', { 'coordination.key': 'crew.started', 'coordination.tenant': TENANT, 'coordination.driver': driverName })).toBeDefined();
    });
  });
});

describe.each(CASES)('telemetry options ($name)', (driver) => {
  let otel: TestSpans;

  beforeEach(() => {
    otel = new TestSpans();
  });

  afterEach(async () => {
    await otel.shutdown();
  });

  /** One call of each request-path family, on `key`. */
  async function exercise(booted: BootedModule, key: string): Promise<void> {
    await booted.get(LockService).withLock(key, async () => undefined, { tenant: TENANT });
    await booted.get(RateLimitService).consume(key, { limit: 5, windowMs: MINUTE, tenant: TENANT });
    await booted.get(CacheService).getOrSet(key, async () => 1, { tenant: TENANT });
    await booted.get(CacheService).get(key, { tenant: TENANT });
  }

  it('hashKeys: every key attribute is a 16-hex-digit SHA-256 digest; the key appears nowhere', async () => {
    const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider, hashKeys: true } });
    try {
      await exercise(booted, 'user:ada@example.com');
    } finally {
      await booted.close();
    }
    const digest = createHash('sha256').update('user:ada@example.com').digest('hex').slice(0, 16);
    const names = ['lock.withLock', 'lock.acquire', 'lock.release', 'ratelimit.consume', 'cache.getOrSet', 'cache.load', 'cache.get'];
    for (const name of names) expect(otel.one(name).attributes['coordination.key']).toBe(digest);
    expect(JSON.stringify(otel.all().map((s) => [s.name, s.attributes, s.events]))).not.toContain('ada@example.com');
  });

  it('traces: false makes no span at all', async () => {
    const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider, traces: false } });
    try {
      await exercise(booted, 'user:1');
    } finally {
      await booted.close();
    }
    expect(otel.names()).toEqual([]);
  });
});
