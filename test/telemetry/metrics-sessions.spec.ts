import 'reflect-metadata';
// sessions_active{tenant}: the live sessions of each tenant across the fleet, counted by the
// background pass that prunes the per-user indexes, and reported by the instance that ran it;
// asserted in core.metrics and in what an OpenTelemetry SDK exports.
import { SHARED_TENANT } from '../../libs/coordination/src/keys/key-builder.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { TestMeters } from '../support/otel-metrics.js';
import { until } from '../support/wait.js';
import { sessionApp, type SessionTestApp } from '../sessions/session-test-app.js';

const active = (app: SessionTestApp, tenant: string) => app.core.metrics.gauge('sessions_active', { tenant });

/** TTL of the session that expires between two passes: the first pass must find it alive (Redis time runs on), so a wide margin. */
const BRIEF_TTL_MS = 2_000;

/** The exported `coordination.sessions.active` per tenant (a series that went away reads 0). */
async function exported(otel: TestMeters): Promise<Record<string, number>> {
  return Object.fromEntries((await otel.points('coordination.sessions.active')).map((p) => [String(p.attributes.tenant), p.value as number]));
}

describe.each(DRIVERS)('sessions_active on $name', (driver) => {
  let app: SessionTestApp;
  let otel: TestMeters;

  beforeEach(() => {
    otel = new TestMeters();
  });
  afterEach(async () => {
    await app?.close();
    await otel.shutdown();
  });

  it('is set per tenant by each pass, from what Redis holds: created, ended and expired sessions included', async () => {
    app = await sessionApp(driver, { telemetry: { meterProvider: otel.provider } });
    const { sessions } = app;
    await sessions.create('ada', {}, { tenant: 'acme' });
    await sessions.create('ada', {}, { tenant: 'acme' });
    const bob = await sessions.create('bob', {}, { tenant: 'acme' });
    await sessions.create('cy', {}, { tenant: 'globex' });
    const brief = await sessions.create('dee', {}, { tenant: 'globex', ttlMs: BRIEF_TTL_MS });
    expect(active(app, 'acme')).toBeUndefined();
    expect(await exported(otel)).toEqual({});

    await app.pruner.runOnce();
    expect(active(app, 'acme')).toBe(3);
    expect(active(app, 'globex')).toBe(2);
    expect(await exported(otel)).toEqual({ acme: 3, globex: 2 });

    await sessions.destroy(bob.id, { tenant: 'acme' });
    await app.elapse(BRIEF_TTL_MS);
    await until(async () => (await sessions.get(brief.id, { touch: false, tenant: 'globex' })) === null, { timeoutMs: 10_000, message: 'the brief session to expire' });
    // Not until the next pass: the gauge is the last pass's count.
    expect(active(app, 'acme')).toBe(3);
    // The lease of the last pass (1 s with the timer off) must lapse before the next one scans
    // (store time: the ManualClock on memory); passes are retried until one ran.
    await app.elapse(1_000);
    await until(async () => (await app.pruner.runOnce(), active(app, 'acme') === 2), { timeoutMs: 15_000, message: 'a pass counting 2 sessions of acme' });
    expect(active(app, 'globex')).toBe(1);
    expect(await exported(otel)).toEqual({ acme: 2, globex: 1 });
  });

  it('drops the series of a tenant with no session left: exported as 0, not its last count', async () => {
    app = await sessionApp(driver, { telemetry: { meterProvider: otel.provider } });
    const only = await app.sessions.create('ada', {}, { tenant: 'initech' });
    await app.pruner.runOnce();
    expect(active(app, 'initech')).toBe(1);
    expect(await exported(otel)).toEqual({ initech: 1 });
    await app.sessions.destroy(only.id, { tenant: 'initech' });
    await app.elapse(1_000);
    await until(async () => (await app.pruner.runOnce(), active(app, 'initech') === undefined), { timeoutMs: 15_000, message: 'the series of initech to go' });
    expect(await exported(otel)).toEqual({ initech: 0 });
  });
});

describe.each(REDIS_DRIVERS)('sessions_active in a fleet ($name)', (driver) => {
  let a: SessionTestApp;
  let b: SessionTestApp;
  let otelA: TestMeters;
  let otelB: TestMeters;

  beforeEach(async () => {
    const prefix = uniquePrefix('activefleet');
    [otelA, otelB] = [new TestMeters(), new TestMeters()];
    [a, b] = await Promise.all([
      sessionApp(driver, { prefix, telemetry: { meterProvider: otelA.provider } }),
      sessionApp(driver, { prefix, telemetry: { meterProvider: otelB.provider } }),
    ]);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([otelA.shutdown(), otelB.shutdown()]);
  });

  it('counts every instance\'s sessions, and only the instance that ran the last pass reports them', async () => {
    // The pass lease every instance on the prefix claims (SET NX PX). The test holds it itself
    // where another instance must find it held, rather than count on a 1 s lease lasting.
    const lease = a.core.keys.key(SHARED_TENANT, 'session-prune', 'pass');
    const client = a.core.connection!.client;
    const holdLease = () => client.set(lease, 'test', 'PX', 600_000);

    await a.sessions.create('ada', {}, { tenant: 'acme' });
    await b.sessions.create('bob', {}, { tenant: 'acme' });
    await a.pruner.runOnce();
    expect(active(a, 'acme')).toBe(2);
    expect(await exported(otelA)).toEqual({ acme: 2 });

    // b's turn is skipped while the lease is held: b reports nothing.
    await holdLease();
    await b.pruner.runOnce();
    expect(active(b, 'acme')).toBeUndefined();
    expect(await exported(otelB)).toEqual({});

    // The lease lapsed: b runs a pass and reports.
    await b.sessions.create('cy', {}, { tenant: 'acme' });
    await client.del(lease);
    await b.pruner.runOnce();
    expect(active(b, 'acme')).toBe(3);
    expect(await exported(otelB)).toEqual({ acme: 3 });

    // a, skipped once its own lease (1 s) may no longer hold, stops reporting: its export reads 0.
    await holdLease();
    await until(async () => (await a.pruner.runOnce(), active(a, 'acme') === undefined), { timeoutMs: 15_000, message: 'a to drop its series' });
    expect(await exported(otelA)).toEqual({ acme: 0 });
    expect(active(b, 'acme')).toBe(3);
    expect(await exported(otelB)).toEqual({ acme: 3 });
  });
});
