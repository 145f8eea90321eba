import 'reflect-metadata';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  IdempotencyInFlightError, IdempotencyKeyInvalidError, IdempotencyService, InvalidArgumentError, InvalidKeyError, LockService,
  LockShutdownError, LockTimeoutError, RateLimitService,
} from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, privateServerDriver, uniquePrefix } from '../support/drivers.js';
import { TestSpans, useAsyncContext } from '../support/otel-traces.js';
import { rejectionOf } from '../support/wait.js';

useAsyncContext();

const TENANT = 'acme';
const MINUTE = 60_000;
const CASES = DRIVERS.filter((d) => d.name !== 'cluster');

describe.each(CASES)('which errors are a traced operation\'s own outcome ($name)', (driver) => {
  let otel: TestSpans;
  let booted: BootedModule;

  beforeAll(async () => {
    otel = new TestSpans();
    booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider } });
  });

  afterAll(async () => {
    await booted?.close();
    await otel?.shutdown();
  });

  beforeEach(() => otel.reset());

  it('withLock: another lock\'s timeout inside the section is a failure of the section, not "not acquired"', async () => {
    const locks = booted.get(LockService);
    const holder = await locks.acquire('b', { tenant: TENANT });
    try {
      const failure = await rejectionOf(locks.withLock('a', () => locks.acquire('b', { tenant: TENANT, waitMs: 0 }), { tenant: TENANT }));
      expect(failure).toBeInstanceOf(LockTimeoutError);
    } finally {
      await holder.release();
    }
    expect(otel.one('lock.acquire', { 'coordination.key': 'a' }).attributes['coordination.lock.acquired']).toBe(true);
    const inner = otel.named('lock.acquire', { 'coordination.key': 'b' }).find((s) => s.attributes['coordination.lock.acquired'] === false);
    expect(inner?.status.code).toBe(SpanStatusCode.UNSET);
    const section = otel.one('lock.withLock', { 'coordination.key': 'a' });
    expect(section.attributes['coordination.lock.acquired']).toBeUndefined();
    expect(section.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('withLock: its own lock not acquired in time is still the outcome (acquired: false)', async () => {
    const locks = booted.get(LockService);
    const holder = await locks.acquire('c', { tenant: TENANT });
    try {
      expect(await rejectionOf(locks.withLock('c', async () => undefined, { tenant: TENANT, waitMs: 0 }))).toBeInstanceOf(LockTimeoutError);
    } finally {
      await holder.release();
    }
    const section = otel.one('lock.withLock', { 'coordination.key': 'c' });
    expect(section.attributes['coordination.lock.acquired']).toBe(false);
    expect(section.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('idempotency.run: a nested run refused as in flight is a failure of the outer run, and the in-flight outcome of the nested one', async () => {
    const idempotency = booted.get(IdempotencyService);
    const namespace = uniquePrefix('nested');
    const claim = await idempotency.begin('inner', { tenant: TENANT, namespace });
    if (claim.replay) throw new Error('a fresh key was replayed');
    try {
      const failure = await rejectionOf(idempotency.run('outer', () => idempotency.run('inner', async () => 1, { tenant: TENANT, namespace, concurrent: 'reject' }), {
        tenant: TENANT, namespace,
      }));
      expect(failure).toBeInstanceOf(IdempotencyInFlightError);
    } finally {
      await claim.abandon();
    }
    const inner = otel.one('idempotency.run', { 'coordination.key': 'inner' });
    expect(inner.attributes['coordination.idempotency.in_flight']).toBe(true);
    expect(inner.status.code).toBe(SpanStatusCode.UNSET);
    const outer = otel.one('idempotency.run', { 'coordination.key': 'outer' });
    expect(outer.attributes['coordination.idempotency.in_flight']).toBeUndefined();
    expect(outer.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('idempotency.run: its own key in flight is still the outcome (in_flight: true)', async () => {
    const idempotency = booted.get(IdempotencyService);
    const namespace = uniquePrefix('own');
    const claim = await idempotency.begin('k', { tenant: TENANT, namespace });
    if (claim.replay) throw new Error('a fresh key was replayed');
    try {
      expect(await rejectionOf(idempotency.run('k', async () => 1, { tenant: TENANT, namespace, concurrent: 'reject' }))).toBeInstanceOf(IdempotencyInFlightError);
    } finally {
      await claim.abandon();
    }
    const run = otel.one('idempotency.run', { 'coordination.key': 'k' });
    expect(run.attributes['coordination.idempotency.in_flight']).toBe(true);
    expect(run.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('bad input to withLock and idempotency.run throws before any span starts', async () => {
    const locks = booted.get(LockService);
    const idempotency = booted.get(IdempotencyService);
    expect(await rejectionOf(locks.withLock('bad key{}', async () => 1, { tenant: TENANT }))).toBeInstanceOf(InvalidKeyError);
    expect(await rejectionOf(locks.withLock('k', async () => 1, { tenant: TENANT, ttlMs: -1 }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejectionOf(idempotency.run('', async () => 1, { tenant: TENANT }))).toBeInstanceOf(IdempotencyKeyInvalidError);
    expect(await rejectionOf(idempotency.run('k', async () => 1, { tenant: TENANT, ttlMs: -1 }))).toBeInstanceOf(InvalidArgumentError);
    expect(otel.names()).toEqual([]);
  });
});

describe.each(CASES)('an acquisition refused at shutdown ($name)', (driver) => {
  it('is a lock.acquire span with status ERROR', async () => {
    const otel = new TestSpans();
    const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider } });
    try {
      const locks = booted.get(LockService);
      await locks.beforeApplicationShutdown();
      expect(await rejectionOf(locks.acquire('late', { tenant: TENANT }))).toBeInstanceOf(LockShutdownError);
      expect(await rejectionOf(locks.acquirePermit('late-permit', { tenant: TENANT, permits: 2 }))).toBeInstanceOf(LockShutdownError);
      const refused = otel.one('lock.acquire', { 'coordination.key': 'late', 'coordination.tenant': TENANT, 'coordination.lock.kind': 'mutex' });
      expect(refused.status.code).toBe(SpanStatusCode.ERROR);
      expect(refused.events.map((e) => e.attributes?.['exception.type'])).toEqual(['E_LOCK_SHUTDOWN']);
      expect(otel.one('lock.acquire', { 'coordination.key': 'late-permit', 'coordination.lock.kind': 'permit' }).status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await booted.close();
      await otel.shutdown();
    }
  });
});

describe('a rate-limit decision that fails closed while Redis is unreachable', () => {
  let server: RedisServerHandle;
  let otel: TestSpans;
  let booted: BootedModule;

  beforeAll(async () => {
    server = await startRedisServer();
    otel = new TestSpans();
    booted = await bootModule({
      ...privateServerDriver(server).options(), prefix: uniquePrefix('rlfc'), health: { pingIntervalMs: 0 },
      rateLimit: { onRedisUnavailable: 'fail-closed' }, telemetry: { tracerProvider: otel.provider },
    });
  });

  afterAll(async () => {
    await booted?.close();
    await otel?.shutdown();
    await server?.stop();
  });

  it('makes consume and consumeMany spans ERROR (a denial by Redis is not)', async () => {
    const limits = booted.get(RateLimitService);
    const policy = { limit: 1, windowMs: MINUTE, tenant: TENANT };
    await limits.consume('k', policy);
    expect((await limits.consume('k', policy)).allowed).toBe(false);
    await server.kill();
    // Another key: 'k' is in this instance's deny cache now, answered without Redis.
    expect(await limits.consume('k2', policy)).toMatchObject({ allowed: false, source: 'fail-closed' });
    const checks = [{ key: 'a', policy: { limit: 5, windowMs: MINUTE } }, { key: 'b', policy: { limit: 5, windowMs: MINUTE } }];
    expect(await limits.consumeMany(checks, { tenant: TENANT })).toMatchObject({ allowed: false, source: 'fail-closed' });
    const spans = otel.named('ratelimit.consume');
    expect(spans.map((s) => [s.attributes['coordination.ratelimit.source'], s.status.code])).toEqual([
      ['redis', SpanStatusCode.UNSET], ['redis', SpanStatusCode.UNSET], ['fail-closed', SpanStatusCode.ERROR], ['fail-closed', SpanStatusCode.ERROR],
    ]);
    expect(spans[2].status.message).toBe('E_REDIS_UNAVAILABLE');
  });
});
