import { jest } from '@jest/globals';
import { SessionObserver } from '../../libs/coordination/src/sessions/session-observer.js';
import { SessionPruner, prunePassDelayMs } from '../../libs/coordination/src/sessions/session-pruner.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from '../../libs/coordination/src/sessions/session.options.js';
import { DRIVERS, REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, sessionApp, type SessionTestApp } from './session-test-app.js';

const memory = DRIVERS.find((d) => d.name === 'memory')!;

/** Counts the SCANs of the store of `app` (the spy calls through: the store runs as ever). */
const scansOf = (app: SessionTestApp) => jest.spyOn(app.store, 'scan');

/**
 * The background pass of a fleet: instances on one key prefix take turns instead of all
 * scanning every index at once. Before a pass an instance claims a short lease in Redis (SET NX
 * PX, 90 % of `pruneIntervalMs` - 1 s, at least 1 s): the one that gets it scans, the others skip that
 * turn; and each instance's timer is jittered (±10 %) so they do not wake in lockstep.
 */
describe.each(REDIS_DRIVERS)('the background pass of a fleet ($name)', (driver) => {
  let a: SessionTestApp;
  let b: SessionTestApp;
  beforeEach(async () => {
    const prefix = uniquePrefix('prunefleet');
    [a, b] = await Promise.all([sessionApp(driver, { prefix }), sessionApp(driver, { prefix })]);
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
    const pruned = await Promise.all([a.pruner.runOnce(), b.pruner.runOnce()]);
    expect(scansA.mock.calls.length + scansB.mock.calls.length).toBe(1);
    expect([...pruned].sort()).toEqual([0, 3]);
    expect((await log.received('session.expired', 3)).map((e) => e.payload.handle).sort()).toEqual(made.map((s) => s.handle).sort());
    // While the lease lasts, neither instance scans again.
    expect(await Promise.all([a.pruner.runOnce(), b.pruner.runOnce()])).toEqual([0, 0]);
    expect(scansA.mock.calls.length + scansB.mock.calls.length).toBe(1);
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

  it('the lease lasts the shortest jittered interval - 1 s: it lapses before the holder\'s own next pass', async () => {
    app = await sessionApp(memory, { sessions: { pruneIntervalMs: 30_000 } });
    const scans = scansOf(app);
    await app.pruner.runOnce();
    app.clock.advance(25_999);
    await app.pruner.runOnce();
    expect(scans).toHaveBeenCalledTimes(1);
    app.clock.advance(1);
    await app.pruner.runOnce();
    expect(scans).toHaveBeenCalledTimes(2);
    expect(26_000).toBeLessThan(prunePassDelayMs(30_000, () => 0)); // the soonest the timer runs the next pass
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
