import { EventBus, LockLostError, LockTimeoutError, type CoordinationEvent } from '@nest-coordination/core';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { rejectionOf, sleep, until } from '../support/wait.js';
import { contended, lockTestApp, type LockTestApp } from './lock-test-app.js';

/** Not a lock event: published by the tests after operations that must publish nothing (see afterMarker). */
const MARKER = 'lock.test-marker';

type LockEvent = { key: string; kind: string; owner: string; fencingToken: number; waitedMs?: number; contended?: boolean; heldMs?: number };

/**
 * `locks.events: 'all'`: on Redis, the acquire and release scripts publish lock.acquired
 * (uncontended) and lock.released themselves; subscribers must see ordinary CoordinationEvents,
 * exactly as from the memory driver's EventBus.emit. The default, 'exceptional', publishes only
 * what needs attention (lost, timeout, deadlock, contended acquisitions).
 */
describe.each(DRIVERS)('lock events ($name)', (driver) => {
  const apps: LockTestApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function watch(app: LockTestApp, tenant?: string): Promise<{ events: CoordinationEvent<LockEvent>[]; stop(): void }> {
    const events: CoordinationEvent<LockEvent>[] = [];
    const stream = app.moduleRef.get(EventBus).on<LockEvent>('lock.*', tenant ? { tenant } : undefined);
    const subscription = stream.subscribe((e) => events.push(e));
    await stream.ready();
    return { events, stop: () => subscription.unsubscribe() };
  }

  /**
   * Publishes a marker event on the watched tenant and waits for it; returns the lock events seen
   * before it. The events a lock operation publishes are sent before the marker (through the one
   * command connection), so one published by mistake has arrived by the time the marker has.
   */
  async function afterMarker(app: LockTestApp, seen: { events: CoordinationEvent<LockEvent>[] }, tenant?: string): Promise<CoordinationEvent<LockEvent>[]> {
    await app.moduleRef.get(EventBus).publish(MARKER, {}, tenant ? { tenant } : undefined);
    await until(() => seen.events.some((e) => e.channel === MARKER), { timeoutMs: 5_000, message: 'the marker event' });
    return seen.events.filter((e) => e.channel !== MARKER);
  }

  const received = (events: unknown[], n: number) =>
    until(() => events.length >= n, { timeoutMs: 5_000, message: () => `${n} lock events (got ${events.length})` });

  const ALL = { locks: { events: 'all' as const } };

  it('delivers lock.acquired and lock.released as normal CoordinationEvents, for the right tenant', async () => {
    const app = await lockTestApp(driver, ALL);
    apps.push(app);
    const acme = await watch(app, 'acme');
    const other = await watch(app, 'globex');
    const lock = await app.locks.acquire('invoice:"42"', { tenant: 'acme', owner: 'worker|1' });
    await lock.release();
    await received(acme.events, 2);
    const [acquired, released] = acme.events;

    expect(acquired).toMatchObject({
      channel: 'lock.acquired', tenant: 'acme', source: app.core.options.instanceId,
      payload: { key: 'invoice:"42"', kind: 'mutex', owner: 'worker|1', fencingToken: lock.fencingToken, contended: false, waitedMs: expect.any(Number) },
    });
    expect(released).toMatchObject({
      channel: 'lock.released', tenant: 'acme',
      payload: { key: 'invoice:"42"', kind: 'mutex', owner: 'worker|1', fencingToken: lock.fencingToken, heldMs: expect.any(Number) },
    });
    expect(acquired.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(released.id).not.toBe(acquired.id);
    expect(typeof acquired.timestamp).toBe('number');
    await sleep(50); // time to pass on purpose: a wrongly routed event would have come by now
    expect(other.events).toHaveLength(0);
    acme.stop();
    other.stop();
  });

  it('publishes nothing for a refused release, and no lock events at all with locks.events off', async () => {
    const quiet = await lockTestApp(driver, { prefix: uniquePrefix('locks'), locks: { events: false } });
    apps.push(quiet);
    const seen = await watch(quiet);
    const lock = await quiet.locks.acquire('silent', { ttlMs: 5_000 });
    await lock.release();
    expect(await afterMarker(quiet, seen)).toEqual([]);
    seen.stop();
  });

  it('counts events the scripts publish in events_published_total, and reports a reentrant acquisition', async () => {
    const app = await lockTestApp(driver, ALL);
    apps.push(app);
    const seen = await watch(app);
    const outer = await app.locks.acquire('nested', { owner: 'o', reentrant: true });
    const inner = await app.locks.acquire('nested', { owner: 'o', reentrant: true });
    expect(inner.fencingToken).toBe(outer.fencingToken);
    await inner.release();
    await outer.release();
    await received(seen.events, 4);
    expect(seen.events.map((e) => e.channel)).toEqual(['lock.acquired', 'lock.acquired', 'lock.released', 'lock.released']);
    expect(app.core.metrics.counter('events_published_total', { channel: 'lock.acquired' })).toBe(2);
    expect(app.core.metrics.counter('events_published_total', { channel: 'lock.released' })).toBe(2);
    seen.stop();
  });

  /** The lock.acquired and the lock.released event of `pair`, in that order, whatever order they arrived in. */
  const inPair = <E extends { channel: string }>(pair: E[]): [E, E] => {
    const acquired = pair.find((e) => e.channel === 'lock.acquired');
    const released = pair.find((e) => e.channel === 'lock.released');
    expect([acquired?.channel, released?.channel]).toEqual(['lock.acquired', 'lock.released']);
    return [acquired!, released!];
  };

  it('delivers lock.acquired and lock.released exactly as EventBus.publish delivers the same payloads', async () => {
    const app = await lockTestApp(driver, ALL);
    apps.push(app);
    const seen = await watch(app, 'acme');
    const lock = await app.locks.acquire('doc', { tenant: 'acme', owner: 'o' });
    await lock.release();
    await received(seen.events, 2);
    // Found by channel: on a cluster two PUBLISHes may go through different nodes, and events promise no order between them.
    const [acquired, released] = inPair(seen.events.slice(0, 2));
    const common = { id: expect.stringMatching(/^[0-9a-f-]{36}$/), tenant: 'acme', source: app.core.options.instanceId, timestamp: expect.any(Number) };
    const described = { key: 'doc', kind: 'mutex', owner: 'o', fencingToken: lock.fencingToken };
    expect(acquired).toEqual({ ...common, channel: 'lock.acquired', payload: { ...described, waitedMs: expect.any(Number), contended: false } });
    expect(released).toEqual({ ...common, channel: 'lock.released', payload: { ...described, heldMs: expect.any(Number) } });
    const bus = app.moduleRef.get(EventBus);
    await bus.publish('lock.acquired', acquired.payload, { tenant: 'acme' });
    await bus.publish('lock.released', released.payload, { tenant: 'acme' });
    await received(seen.events, 4);
    const [republishedAcquired, republishedReleased] = inPair(seen.events.slice(2, 4));
    expect(republishedAcquired).toEqual({ ...acquired, id: republishedAcquired.id, timestamp: republishedAcquired.timestamp });
    expect(republishedReleased).toEqual({ ...released, id: republishedReleased.id, timestamp: republishedReleased.timestamp });
    seen.stop();
  });

  it('by default publishes no event for an uncontended acquire, extend and release (metrics are kept)', async () => {
    const app = await lockTestApp(driver);
    apps.push(app);
    expect(app.locks.options.events).toBe('exceptional');
    const seen = await watch(app);
    const lock = await app.locks.acquire('quiet', { ttlMs: 5_000 });
    await lock.extend(6_000);
    await lock.release();
    expect(await afterMarker(app, seen)).toEqual([]);
    expect(app.core.metrics.snapshot().histograms.find((h) => h.name === 'lock_acquire_ms')?.count).toBe(1);
    seen.stop();
  });

  /** A timeout, a contended acquisition and a lost lock, each of which publishes an event unless 'none'. */
  async function exceptionalSteps(app: LockTestApp): Promise<void> {
    const first = await app.locks.acquire('busy', { ttlMs: 5_000 });
    expect(await rejectionOf(app.locks.acquire('busy', { waitMs: 0 }))).toBeInstanceOf(LockTimeoutError);
    const second = app.locks.acquire('busy', { ttlMs: 5_000, waitMs: 5_000, owner: 'second' });
    await contended(app, 2);
    await first.release();
    const lock = await second;
    // Lost: the lock is gone from the store under its holder (released behind its back).
    await app.store.releaseMutex(app.keys.mutex(app.core.tenants.resolve(undefined, 'test'), 'busy'), lock.token);
    expect(await rejectionOf(lock.release())).toBeInstanceOf(LockLostError);
  }

  it('by default publishes contended acquisitions, timeouts and lost locks', async () => {
    const app = await lockTestApp(driver);
    apps.push(app);
    const seen = await watch(app);
    await exceptionalSteps(app);
    await received(seen.events, 3);
    expect(seen.events.map((e) => e.channel).sort()).toEqual(['lock.acquired', 'lock.lost', 'lock.timeout']);
    expect(seen.events.find((e) => e.channel === 'lock.acquired')?.payload).toMatchObject({ key: 'busy', owner: 'second', contended: true });
    seen.stop();
  });

  it.each(['none', false] as const)('with locks.events %p publishes no lock event at all (metrics are kept)', async (events) => {
    const app = await lockTestApp(driver, { locks: { events } });
    apps.push(app);
    const seen = await watch(app);
    await exceptionalSteps(app);
    const quiet = await app.locks.acquire('quiet', { ttlMs: 5_000 });
    await quiet.extend(6_000);
    await quiet.release();
    expect(await afterMarker(app, seen)).toEqual([]);
    expect(app.core.metrics.counter('lock_contended_total', { kind: 'mutex' })).toBeGreaterThanOrEqual(2);
    seen.stop();
  });
});
