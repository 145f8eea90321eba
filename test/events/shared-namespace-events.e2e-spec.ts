import {
  DeadlockError, EventBus, LockLostError, LockService, LockTimeoutError, ManualClock, RateLimitService, TenantInvalidError,
  type CoordinationEvent, type Lock,
} from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import type { CoordinationCore } from '../support/internals.js';
import { rejectionOf, until } from '../support/wait.js';
import { collect, EVENT_TIMEOUT_MS, type Collector } from './event-test.helpers.js';

type Payload = { key?: string; tenant?: string; renewal?: boolean; [field: string]: unknown };

/** Every key the `_shared` operations of this file use starts with it; the acme anchor's does not. */
const SHARED_KEY = 'shared-';
const POLICY = { name: 'tight', limit: 1, windowMs: 60_000 };

/**
 * With `tenancy.required: false`, work outside any tenant lives in the `_shared` namespace, and
 * its events must be published there, whatever async context the library code that emits them
 * happens to run in: a renewal timer armed by a tenant's lock, a flush started by a tenant's
 * request, a `_shared` check made from inside a tenant's request. An acme observer of `*` must
 * see none of them; a `_shared` observer sees them all (issue #8, item 6).
 */
describe.each(DRIVERS)('events of the _shared namespace ($name)', (driver) => {
  let booted: BootedModule;
  let core: CoordinationCore;
  let bus: EventBus;
  let locks: LockService;
  let rateLimits: RateLimitService;
  let clock: ManualClock;
  let acme: Collector<Payload>;
  let shared: Collector<Payload>;

  beforeAll(async () => {
    clock = new ManualClock(Date.now());
    booted = await bootModule({
      ...driver.options(),
      prefix: uniquePrefix('sharedev'),
      clock,
      tenancy: { required: false },
      health: { pingIntervalMs: 0 },
      // Only the flushes the tests start run during a test (the periodic one is a minute away).
      rateLimit: { violations: { alertThreshold: 2, flushIntervalMs: 60_000 } },
      // Where each lock event lands is the point, the uncontended lock.extended included (not published by default).
      locks: { events: 'all' },
    });
    core = booted.core;
    bus = booted.get(EventBus);
    locks = booted.get(LockService);
    rateLimits = booted.get(RateLimitService);
    acme = await collect(bus.on<Payload>('*', { tenant: 'acme' }));
    shared = await collect(bus.on<Payload>('*')); // outside any context: the _shared namespace
  });

  beforeEach(() => {
    // Each test judges only what its own operations publish.
    acme.events.length = 0;
    shared.events.length = 0;
  });

  afterAll(async () => {
    acme?.stop();
    shared?.stop();
    await booted?.close();
  });

  const isSharedWork = (event: CoordinationEvent<Payload>) =>
    event.payload.key?.startsWith(SHARED_KEY) === true || event.payload.tenant === '_shared';
  const show = (events: CoordinationEvent<Payload>[]) => JSON.stringify(events.map((e) => [e.channel, e.payload.key]));

  /**
   * Waits until the `_shared` observer has an event matching `wanted`, or acme got one of the
   * `_shared` namespace's events (then fails at once, naming it), and returns the `_shared` one.
   */
  async function seenInSharedOnly(wanted: (event: CoordinationEvent<Payload>) => boolean, what: string): Promise<CoordinationEvent<Payload>> {
    await until(() => shared.events.some(wanted) || acme.events.some(isSharedWork), {
      timeoutMs: EVENT_TIMEOUT_MS,
      message: () => `${what} on _shared (_shared got ${show(shared.events)}, acme got ${show(acme.events)})`,
    });
    expect(acme.events.filter(isSharedWork)).toEqual([]);
    const event = shared.events.find(wanted)!;
    expect(event.tenant).toBe('_shared');
    return event;
  }

  const on = (channel: string, key: string, extra: (p: Payload) => boolean = () => true) =>
    (e: CoordinationEvent<Payload>) => e.channel === channel && e.payload.key === key && extra(e.payload);

  it('publishes renewals of a _shared lock in _shared when a tenant armed the renewal timer', async () => {
    // The locks of one LockService share one timer: armed by acme's lock first, it then runs
    // every renewal in acme's async context, the _shared lock's included.
    const anchor = await core.tenants.run('acme', () => locks.acquire('anchor', { ttlMs: 300 }));
    const renewed = await locks.acquire(`${SHARED_KEY}renewed`, { ttlMs: 300 });

    await seenInSharedOnly(on('lock.extended', `${SHARED_KEY}renewed`, (p) => p.renewal === true), 'an automatic lock.extended');
    await renewed.release();
    await anchor.release();
  });

  it('publishes extend() of a _shared lock in _shared when called inside a tenant context', async () => {
    const lock = await locks.acquire(`${SHARED_KEY}extended`, { ttlMs: 30_000, autoRenew: false });
    await core.tenants.run('acme', () => lock.extend());

    await seenInSharedOnly(on('lock.extended', `${SHARED_KEY}extended`, (p) => p.renewal === false), 'lock.extended of extend()');
    await lock.release();
  });

  it('publishes timeouts and deadlocks of _shared locks in _shared when acquired from inside an acme request', async () => {
    // Inside a tenant's request, lock calls reach the _shared namespace only by leaving the tenant context.
    const fromAcmeRequest = <T>(fn: () => T): T => core.tenants.run('acme', () => core.tenants.exit(fn));
    const held = await locks.acquire(`${SHARED_KEY}busy`, { ttlMs: 30_000 });
    expect(await fromAcmeRequest(() => rejectionOf(locks.acquire(`${SHARED_KEY}busy`, { waitMs: 0 })))).toBeInstanceOf(LockTimeoutError);
    await seenInSharedOnly(on('lock.timeout', `${SHARED_KEY}busy`), 'lock.timeout');
    await held.release();

    const x = await locks.acquire(`${SHARED_KEY}x`, { owner: 'owner-a', ttlMs: 30_000 });
    const y = await locks.acquire(`${SHARED_KEY}y`, { owner: 'owner-b', ttlMs: 30_000 });
    const waits = [
      fromAcmeRequest(() => locks.acquire(`${SHARED_KEY}y`, { owner: 'owner-a', waitMs: 20_000 })),
      fromAcmeRequest(() => locks.acquire(`${SHARED_KEY}x`, { owner: 'owner-b', waitMs: 20_000 })),
    ].map((wait) => wait.then((lock): Lock | Error => lock, (error: Error) => error));
    const first = await Promise.race(waits);
    expect(first).toBeInstanceOf(DeadlockError);
    await seenInSharedOnly((e) => e.channel === 'lock.deadlock' && String(e.payload.key).startsWith(SHARED_KEY), 'lock.deadlock');
    await Promise.all([x.release(), y.release()]);
    for (const outcome of await Promise.all(waits)) if (!(outcome instanceof Error)) await outcome.release();
  });

  it('publishes rate-limit violations and alerts of the _shared namespace in _shared when a tenant request checks and flushes', async () => {
    const check = () => rateLimits.consumeMany([{ key: `${SHARED_KEY}ip`, policy: POLICY }], { sharedNamespace: true });
    const decisions = await core.tenants.run('acme', async () => [await check(), await check(), await check()]);
    expect(decisions.map((d) => d.allowed)).toEqual([true, false, false]);
    await seenInSharedOnly(on('ratelimit.violation', `${SHARED_KEY}ip`), 'ratelimit.violation');

    // Writing the log (any caller's getViolations flushes every tenant's batch) fires the alert.
    await core.tenants.run('acme', () => rateLimits.getViolations());
    const alert = await seenInSharedOnly(on('ratelimit.alert', `${SHARED_KEY}ip`), 'ratelimit.alert');
    expect(alert.payload).toMatchObject({ tenant: '_shared', violations: 2, threshold: 2 });
  });

  it('never lets a caller name the _shared namespace', async () => {
    await expect(bus.publish('crew.started', {}, { tenant: '_shared' })).rejects.toThrow(TenantInvalidError);
    expect(() => bus.on('*', { tenant: '_shared' })).toThrow(TenantInvalidError);
  });

  it('publishes the loss of a _shared lock in _shared when it is found lost inside a tenant context', async () => {
    const lock = await locks.acquire(`${SHARED_KEY}lost`, { ttlMs: 30_000, autoRenew: false });
    // Past its expiry on the module clock only: the scheduler's own expiry check is 30 s away,
    // so the loss is found by the extend() below, in acme's context.
    clock.advance(31_000);
    expect(await core.tenants.run('acme', () => rejectionOf(lock.extend()))).toBeInstanceOf(LockLostError);

    await seenInSharedOnly(on('lock.lost', `${SHARED_KEY}lost`), 'lock.lost');
  });
});
