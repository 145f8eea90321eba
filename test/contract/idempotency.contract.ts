import {
  IdempotencyInFlightError, IdempotencyKeyInvalidError, IdempotencyMismatchError, InvalidArgumentError, TenantInvalidError,
} from '@nest-coordination/core';
// Internal: the shutdown hooks of the claims are called one at a time below, as Nest calls them.
import { IdempotencyClaims } from '../../libs/coordination/src/idempotency/idempotency-claims.js';
import { ARRIVAL_MS, gate, idempotencyApp, type IdempotencyTestApp } from '../idempotency/idempotency-test-app.js';
import type { DriverCase } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { nextEvent, rejectionOf, sleep, until } from '../support/wait.js';

/**
 * What IdempotencyService promises on every backend, through the Nest module: memory,
 * standalone Redis and Redis Cluster run these same assertions.
 */
export function describeIdempotencyServiceContract(driver: DriverCase): void {
  let app: IdempotencyTestApp;
  const extra: IdempotencyTestApp[] = [];
  beforeEach(async () => {
    app = await idempotencyApp(driver);
  });
  afterEach(async () => {
    await Promise.all([app, ...extra.splice(0)].map((a) => a.close()));
  });

  it('runs the work once under a key and replays its value through the serializer (Dates, Maps, BigInts, nested)', async () => {
    const value = { at: new Date(5), tags: new Map([['a', new Set([1, 2])]]), total: 10n, nested: { list: [1, { deep: null }], none: undefined } };
    let runs = 0;
    const work = async () => ((runs += 1), value);
    expect(await app.idempotency.run('order-42', work)).toBe(value);
    const replayed = await app.idempotency.run('order-42', work);
    expect(runs).toBe(1);
    expect(replayed).toEqual(value);
    expect(replayed).not.toBe(value);
    expect(replayed.at).toBeInstanceOf(Date);
    expect(replayed.tags.get('a')).toEqual(new Set([1, 2]));
    expect(await app.idempotency.run('order-42', async () => undefined)).toEqual(value);
    expect(await app.idempotency.run('empty', () => undefined)).toBeUndefined();
    expect(await app.idempotency.run('empty', () => 'ran again')).toBeUndefined();
    expect(app.outcomes('executed')).toBe(2);
    expect(app.outcomes('replayed')).toBe(3);
  });

  it('concurrent calls with one key run the work once and all get its value', async () => {
    const release = gate();
    let runs = 0;
    const work = async () => {
      runs += 1;
      await release.opened;
      return { run: runs, at: new Date(7) };
    };
    const all = Array.from({ length: 4 }, () => app.idempotency.run('burst', work, { fingerprint: { a: 1 } }));
    // Every call has met the key (one acquired it, the others poll it) before the work ends.
    await until(() => app.calls.begin >= 5, { timeoutMs: ARRIVAL_MS, message: 'the duplicates to poll the key' });
    release.open();
    const results = await Promise.all(all);
    expect(runs).toBe(1);
    for (const result of results) expect(result).toEqual({ run: 1, at: new Date(7) });
    expect(app.outcomes('executed')).toBe(1);
    expect(app.outcomes('replayed')).toBe(3);
  });

  it('work that throws frees the key: the error is rethrown and a retry runs again', async () => {
    const failure = new Error('payment provider down');
    const error = await rejectionOf(app.idempotency.run('pay-1', () => Promise.reject(failure)));
    expect(error).toBe(failure);
    expect(await rejectionOf(app.idempotency.run('pay-1', () => { throw new TypeError('sync'); }))).toBeInstanceOf(TypeError);
    expect(await app.idempotency.run('pay-1', () => 'paid')).toBe('paid');
    expect(await app.idempotency.run('pay-1', () => 'paid twice')).toBe('paid');
    expect(app.outcomes('abandoned')).toBe(2);
  });

  it('the key with another fingerprint is a mismatch, while the first attempt runs and once it is done', async () => {
    const release = gate();
    const first = app.idempotency.run('refund-9', async () => (await release.opened, 'refunded'), { fingerprint: { amount: 10, currency: 'EUR' } });
    await until(() => app.calls.begin >= 1, { timeoutMs: ARRIVAL_MS, message: 'the first attempt to hold the key' });
    expect(await rejectionOf(app.idempotency.run('refund-9', () => 'other', { fingerprint: { amount: 11, currency: 'EUR' } }))).toBeInstanceOf(IdempotencyMismatchError);
    release.open();
    expect(await first).toBe('refunded');
    // Key order does not matter; the value does, and so does having a fingerprint at all.
    expect(await app.idempotency.run('refund-9', () => 'x', { fingerprint: { currency: 'EUR', amount: 10 } })).toBe('refunded');
    expect(await rejectionOf(app.idempotency.run('refund-9', () => 'x', { fingerprint: { amount: 11, currency: 'EUR' } }))).toBeInstanceOf(IdempotencyMismatchError);
    expect(await rejectionOf(app.idempotency.run('refund-9', () => 'x'))).toBeInstanceOf(IdempotencyMismatchError);
    expect(app.outcomes('mismatch')).toBe(3);
  });

  it("a duplicate in flight: 'reject' fails at once, 'wait' fails after waitMs; both with the lease's retryAfterMs", async () => {
    const release = gate();
    const first = app.idempotency.run('slow', async () => (await release.opened, 'done'));
    await until(() => app.calls.begin >= 1, { timeoutMs: ARRIVAL_MS, message: 'the first attempt to hold the key' });
    const rejected = await rejectionOf(app.idempotency.run('slow', () => 'dup', { concurrent: 'reject' }));
    expect(rejected).toBeInstanceOf(IdempotencyInFlightError);
    expect((rejected as IdempotencyInFlightError).retryAfterMs).toBeGreaterThan(0);
    expect((rejected as IdempotencyInFlightError).retryAfterMs).toBeLessThanOrEqual(30_000);
    const begins = app.calls.begin;
    const waited = await rejectionOf(app.idempotency.run('slow', () => 'dup', { waitMs: 300 }));
    expect(waited).toBeInstanceOf(IdempotencyInFlightError);
    expect(app.calls.begin - begins).toBeGreaterThan(1); // it polled
    expect(await rejectionOf(app.idempotency.run('slow', () => 'dup', { waitMs: 0 }))).toBeInstanceOf(IdempotencyInFlightError);
    release.open();
    expect(await first).toBe('done');
    expect(await app.idempotency.run('slow', () => 'dup', { concurrent: 'reject' })).toBe('done');
    expect(app.outcomes('in_flight')).toBe(3);
  });

  it('a waiting duplicate runs the work itself when the first attempt fails', async () => {
    const release = gate();
    const first = app.idempotency.run('flaky', async () => {
      await release.opened;
      throw new Error('first attempt failed');
    });
    await until(() => app.calls.begin >= 1, { timeoutMs: ARRIVAL_MS, message: 'the first attempt to hold the key' });
    const second = app.idempotency.run('flaky', () => 'second ran');
    await until(() => app.calls.begin >= 2, { timeoutMs: ARRIVAL_MS, message: 'the duplicate to wait' });
    release.open();
    await expect(first).rejects.toThrow('first attempt failed');
    expect(await second).toBe('second ran');
  });

  it('tenants and namespaces never share a key', async () => {
    expect(await app.idempotency.run('k', () => 'acme', { tenant: 'acme' })).toBe('acme');
    expect(await app.idempotency.run('k', () => 'globex', { tenant: 'globex' })).toBe('globex');
    expect(await app.idempotency.run('k', () => 'shared')).toBe('shared');
    expect(await app.idempotency.run('k', () => 'ns', { tenant: 'acme', namespace: 'refunds' })).toBe('ns');
    expect(await app.idempotency.run('k', () => 'again', { tenant: 'acme' })).toBe('acme');
    expect(await app.idempotency.run('k', () => 'again', { tenant: 'acme', namespace: 'refunds' })).toBe('ns');
    expect(await app.core.tenants.run('globex', () => app.idempotency.run('k', () => 'again'))).toBe('globex');
  });

  it('begin: a claim to complete (stored once) or abandon (the key free again)', async () => {
    const claim = await app.idempotency.begin<{ id: number }>('claim-1', { fingerprint: 'f' });
    if (claim.replay) throw new Error('expected the right to run');
    expect(claim.signal.aborted).toBe(false);
    expect(await claim.complete({ id: 1 })).toBe(true);
    expect(await claim.complete({ id: 2 })).toBe(false);
    const replay = await app.idempotency.begin<{ id: number }>('claim-1', { fingerprint: 'f' });
    expect(replay).toEqual({ replay: true, value: { id: 1 } });
    const dropped = await app.idempotency.begin('claim-2');
    if (dropped.replay) throw new Error('expected the right to run');
    await dropped.abandon();
    await dropped.abandon();
    expect(await app.idempotency.run('claim-2', () => 'ran')).toBe('ran');
  });

  it('renews the lease while the work runs, and aborts the signal when the lease is lost', async () => {
    const short = await idempotencyApp(driver, { idempotency: { leaseMs: 1_000 } });
    extra.push(short);
    const claim = await short.idempotency.begin('long-work');
    if (claim.replay) throw new Error('expected the right to run');
    // Longer than the lease on purpose: only the renewals keep the key in flight.
    await sleep(1_500);
    expect(short.calls.renew).toBeGreaterThan(0);
    expect(await rejectionOf(short.idempotency.run('long-work', () => 'dup', { concurrent: 'reject' }))).toBeInstanceOf(IdempotencyInFlightError);
    const aborted = nextEvent(claim.signal, 'abort', { timeoutMs: ARRIVAL_MS, message: 'the claim signal to abort once its lease is gone' });
    if (short.core.connection) await short.core.connection.client.del(short.recordKey('long-work'));
    else short.clock.advance(1_001);
    await aborted;
    expect(await claim.complete('late')).toBe(false);
    expect(await short.idempotency.run('long-work', () => 'next attempt')).toBe('next attempt');
  });

  it('refuses bad input with typed errors before any store call', async () => {
    const run = (key: unknown, options?: unknown, fn: unknown = () => 1) =>
      rejectionOf(app.idempotency.run(key as string, fn as () => number, options as never));
    expect(await run('')).toBeInstanceOf(IdempotencyKeyInvalidError);
    expect(await run('x'.repeat(256))).toBeInstanceOf(IdempotencyKeyInvalidError);
    expect(await run('line\nbreak')).toBeInstanceOf(IdempotencyKeyInvalidError);
    expect(await run('é')).toBeInstanceOf(IdempotencyKeyInvalidError);
    expect(await run(42)).toBeInstanceOf(IdempotencyKeyInvalidError);
    expect(await rejectionOf(app.idempotency.begin(''))).toBeInstanceOf(IdempotencyKeyInvalidError);
    for (const options of [
      { ttlMs: 0 }, { ttlMs: 1.5e3 + 0.5 }, { waitMs: -1 }, { waitMs: 600_001 }, { concurrent: 'queue' }, { namespace: 'n'.repeat(201) },
      { namespace: 7 }, { ttl: 1_000 }, null, 'options',
    ]) {
      const error = await run('k', options);
      expect(error).toBeInstanceOf(InvalidArgumentError);
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await run('k', { fingerprint: cyclic })).toMatchObject({ argument: 'options.fingerprint' });
    expect(await run('k', { tenant: 'a*b' })).toBeInstanceOf(TenantInvalidError);
    expect(await run('k', undefined, 'not a function')).toMatchObject({ argument: 'fn' });
    expect(app.calls).toEqual({ begin: 0, renew: 0, complete: 0, abandon: 0 });
    expect(await app.idempotency.run('x'.repeat(255), () => 'longest key', { namespace: 'n'.repeat(200) })).toBe('longest key');
  });

  it('shutdown ends the waits at once (IdempotencyInFlightError) and leaves no timers', async () => {
    const owner = await idempotencyApp(driver);
    extra.push(owner);
    const claim = await owner.idempotency.begin('held');
    if (claim.replay) throw new Error('expected the right to run');
    const waiting = rejectionOf(owner.idempotency.run('held', () => 'never', { waitMs: 600_000 }));
    await until(() => owner.calls.begin >= 3, { timeoutMs: ARRIVAL_MS, message: 'the duplicate to poll the key' });
    await expectNoTimersLeftBy(() => owner.close());
    const error = await waiting;
    expect(error).toBeInstanceOf(IdempotencyInFlightError);
    expect((error as IdempotencyInFlightError).retryAfterMs).toBeGreaterThan(0);
  });

  it('run returns the value of work that succeeded even when it cannot be stored (encoding failed): logged, the key freed', async () => {
    const cyclic: Record<string, unknown> = { id: 1 };
    cyclic.self = cyclic;
    expect(await app.idempotency.run('unstorable', () => cyclic)).toBe(cyclic);
    expect(app.outcomes('abandoned')).toBe(1);
    expect(await app.idempotency.run('unstorable', () => 'ran again')).toBe('ran again');
  });

  it('a running attempt keeps its lease renewed after beforeApplicationShutdown (in-flight requests still finish), until onApplicationShutdown', async () => {
    const owner = await idempotencyApp(driver, { idempotency: { leaseMs: 1_000 } });
    extra.push(owner);
    const claim = await owner.idempotency.begin('finishing');
    if (claim.replay) throw new Error('expected the right to run');
    owner.booted.get(IdempotencyClaims).beforeApplicationShutdown();
    const renewals = owner.calls.renew;
    // Past the lease: only renewals keep the key.
    await until(() => owner.calls.renew >= renewals + 4, { timeoutMs: ARRIVAL_MS, message: 'the lease to be renewed after beforeApplicationShutdown' });
    expect(claim.signal.aborted).toBe(false);
    expect(await rejectionOf(owner.idempotency.run('finishing', () => 'dup', { concurrent: 'reject' }))).toBeInstanceOf(IdempotencyInFlightError);
    expect(await claim.complete('finished during shutdown')).toBe(true);
    await expectNoTimersLeftBy(() => owner.close());
  });
}
