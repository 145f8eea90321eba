import { jest } from '@jest/globals';
import { SessionObserver } from '../../libs/coordination/src/sessions/session-observer.js';
import { SessionPruner, prunePassDelayMs, prunePassLeaseMs } from '../../libs/coordination/src/sessions/session-pruner.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from '../../libs/coordination/src/sessions/session.options.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, sessionApp, type SessionTestApp } from './session-test-app.js';

const memory = DRIVERS.find((d) => d.name === 'memory')!;

/** Counts the SCANs of the store of `app` (the spy calls through: the store runs as ever). */
const scansOf = (app: SessionTestApp) => jest.spyOn(app.store, 'scan');

/**
 * The background pass of a fleet: instances on one key prefix take turns instead of all
 * scanning every index at once. Before a pass an instance claims a lease in Redis (SET NX PX,
 * 85 % of `pruneIntervalMs`, at least 1 ms): the one that gets it scans, the others skip that
 * turn; and each instance's timer is jittered (±10 %) so they do not wake in lockstep. The
 * instances here prune every 10 minutes: the lease outlasts the test whatever the load, and
 * the timer never fires during it.
 */
describe.each(REDIS_DRIVERS)('the background pass of a fleet ($name)', (driver) => {
  let a: SessionTestApp;
  let b: SessionTestApp;
  beforeEach(async () => {
    const prefix = uniquePrefix('prunefleet');
    const options = { prefix, sessions: { pruneIntervalMs: 600_000 } };
    [a, b] = await Promise.all([sessionApp(driver, options), sessionApp(driver, options)]);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all([a.close(), b.close()]);
  });

  it('of two instances running a pass at once, exactly one scans, and it prunes every index', async () => {
    const log = await b.watch('acme');
    const made = await Promise.all(['ada', 'bob', 'cy'].map((user) => a.sessions.create(user, {}, { tenant: 'acme', ttlMs: 200 })));
    for (const s of made) {
      await until(async () => (await a.sessions.get(s.id, { touch: false })) === null, { timeoutMs: ARRIVAL_MS, message: 'the session to expire' });
    }
    const [scansA, scansB] = [scansOf(a), scansOf(b)];
    const [claimsA, claimsB] = [jest.spyOn(a.store, 'claimPass'), jest.spyOn(b.store, 'claimPass')];
    const scans = () => scansA.mock.calls.length + scansB.mock.calls.length;
    const pruned = await Promise.all([a.pruner.runOnce(), b.pruner.runOnce()]);
    expect(scans()).toBe(1);
    expect([...pruned].sort()).toEqual([0, 3]);
    expect((await log.received('session.expired', 3)).map((e) => e.payload.handle).sort()).toEqual(made.map((s) => s.handle).sort());
    // While the lease lasts (510 s), neither instance scans again: both claim, neither gets it.
    expect(await Promise.all([a.pruner.runOnce(), b.pruner.runOnce()])).toEqual([0, 0]);
    expect(scans()).toBe(1);
    const claims = [...claimsA.mock.results, ...claimsB.mock.results];
    expect(claims).toHaveLength(4);
    expect((await Promise.all(claims.map((r) => r.value as Promise<boolean>))).filter((won) => won)).toHaveLength(1);
    // Each expired session announced once, by the one instance that pruned it.
    expect(a.core.metrics.counter('sessions_expired_total') + b.core.metrics.counter('sessions_expired_total')).toBe(3);
    expect(log.events.filter((e) => e.channel === 'session.expired')).toHaveLength(3);
    log.stop();
  });
});

describe('the background pass on the memory driver', () => {
  let app: SessionTestApp;
  afterEach(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  /** A second pruner on the module's own store, keys and observer: another instance sharing its keyspace. */
  const secondPruner = (on: SessionTestApp) =>
    new SessionPruner(on.booted.get<ResolvedSessionOptions>(SESSION_OPTIONS), on.store, on.keys, on.booted.get(SessionObserver), on.core);

  it('of two pruners on one store running a pass at once, one scans; the lease (1 s when the timer is off) then lets the next one through', async () => {
    app = await sessionApp(memory);
    const other = secondPruner(app);
    await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 10_000 });
    app.clock.advance(10_000);
    const scans = scansOf(app);
    expect([...(await Promise.all([app.pruner.runOnce(), other.runOnce()]))].sort()).toEqual([0, 1]);
    expect(scans).toHaveBeenCalledTimes(1);
    expect(await app.sessions.listForUser('ada', { tenant: 'acme' })).toEqual([]);
    expect(app.core.metrics.counter('sessions_expired_total')).toBe(1);
    app.clock.advance(999);
    expect(await other.runOnce()).toBe(0);
    expect(await app.pruner.runOnce()).toBe(0);
    expect(scans).toHaveBeenCalledTimes(1);
    app.clock.advance(1);
    await app.sessions.create('bob', {}, { tenant: 'acme', ttlMs: 1 });
    app.clock.advance(1);
    expect(await other.runOnce()).toBe(1);
    expect(scans).toHaveBeenCalledTimes(2);
  });

  it('the lease lasts 85 % of the interval: it lapses before the holder\'s own next pass', async () => {
    app = await sessionApp(memory, { sessions: { pruneIntervalMs: 30_000 } });
    const scans = scansOf(app);
    await app.pruner.runOnce();
    app.clock.advance(25_499);
    await app.pruner.runOnce();
    expect(scans).toHaveBeenCalledTimes(1);
    app.clock.advance(1);
    await app.pruner.runOnce();
    expect(scans).toHaveBeenCalledTimes(2);
    expect(25_500).toBeLessThan(prunePassDelayMs(30_000, () => 0)); // the soonest the timer runs the next pass
  });
});

describe('prunePassLeaseMs', () => {
  const intervals = [
    ...Array.from({ length: 5_000 }, (_, n) => n + 1),
    ...Array.from({ length: 2_000 }, (_, n) => 5_000 + n * 43_197),
    86_399_999, 86_400_000,
  ];

  it('is 85 % of the interval, whole ms, at least 1 ms; 1 s with the timer off', () => {
    expect(prunePassLeaseMs(60_000)).toBe(51_000);
    expect(prunePassLeaseMs(500)).toBe(425);
    expect(prunePassLeaseMs(1)).toBe(1);
    expect(prunePassLeaseMs(0)).toBe(1_000);
  });

  it('lapses no later than the soonest next pass of its holder, for every allowed interval: a lone instance never skips a turn', () => {
    for (const interval of intervals) {
      const lease = prunePassLeaseMs(interval);
      const soonest = prunePassDelayMs(interval, () => 0);
      if (!(Number.isInteger(lease) && lease >= 1 && lease <= soonest)) throw new Error(`interval ${interval}: lease ${lease}, soonest pass ${soonest}`);
    }
  });

  it('covers most of the shortest wait: a fleet scans about once per interval, not once per instance', () => {
    for (const interval of intervals.filter((i) => i >= 100)) {
      const ratio = prunePassLeaseMs(interval) / prunePassDelayMs(interval, () => 0);
      if (ratio < 0.9) throw new Error(`interval ${interval}: the lease covers only ${ratio} of the shortest wait`);
    }
  });
});

describe('prunePassDelayMs', () => {
  it('spreads the interval over ±10 %, whole milliseconds', () => {
    expect(prunePassDelayMs(10_000, () => 0)).toBe(9_000);
    expect(prunePassDelayMs(10_000, () => 0.5)).toBe(10_000);
    expect(prunePassDelayMs(10_000, () => 0.999_999)).toBe(11_000);
    const delays = Array.from({ length: 200 }, () => prunePassDelayMs(60_000));
    expect(delays.every((d) => Number.isInteger(d) && d >= 54_000 && d <= 66_000)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(1); // Math.random: 200 equal draws would be a broken generator
  });
});
