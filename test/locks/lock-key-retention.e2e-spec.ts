import { LockTimeoutError, ManualClock } from '@nest-coordination/core';
import { DRIVERS, REDIS_DRIVERS } from '../support/drivers.js';
import { lockTestApp, type LockTestApp } from './lock-test-app.js';

// Keys the locks capability writes besides the documented fence counters: each must expire.
const GUARD_RETENTION_MS = 3_600_000;
const MAX_TTL_MS = 600_000;
const WAITER_LEASE_MS = 10_000;
/** The wait-order counter outlives any wait (waitMs <= maxTtlMs) plus a waiter's lease. */
const SEQUENCE_RETENTION_MS = MAX_TTL_MS + WAITER_LEASE_MS;
const options = { locks: { fenceGuardRetentionMs: GUARD_RETENTION_MS, maxTtlMs: MAX_TTL_MS, waiterLeaseMs: WAITER_LEASE_MS } };

/** Makes `tenant`'s owner B wait (and give up) for a lock owner A holds: a wait records its order. */
async function waitOnce(app: LockTestApp, tenant: string): Promise<void> {
  const held = await app.locks.acquire('busy', { tenant, owner: 'A' });
  await expect(app.locks.acquire('busy', { tenant, owner: 'B', waitMs: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
  await held.release();
}

describe.each(REDIS_DRIVERS)('lock keys with a retention ($name)', (driver) => {
  let app: LockTestApp;
  beforeEach(async () => {
    app = await lockTestApp(driver, options);
  });
  afterEach(() => app.close());

  const pttl = (key: string) => app.core.connection!.execute('test.pttl', (c) => c.pttl(key));

  it('gives the checkFence guard the fenceGuardRetentionMs expiry, renewed by accepted and refused checks', async () => {
    const guard = app.keys.fenceGuard('acme', 'ledger');
    expect(await app.locks.checkFence('ledger', 5, { tenant: 'acme' })).toBe(true);
    expect(await pttl(guard)).toBeGreaterThan(0);
    expect(await pttl(guard)).toBeLessThanOrEqual(GUARD_RETENTION_MS);
    await app.core.connection!.execute('test.pexpire', (c) => c.pexpire(guard, 60_000));
    expect(await app.locks.checkFence('ledger', 4, { tenant: 'acme' })).toBe(false);
    expect(await pttl(guard)).toBeGreaterThan(60_000);
    await app.core.connection!.execute('test.pexpire', (c) => c.pexpire(guard, 60_000));
    expect(await app.locks.checkFence('ledger', 5, { tenant: 'acme' })).toBe(true);
    expect(await pttl(guard)).toBeGreaterThan(60_000);
  });

  it('gives the per-tenant wait-order counter an expiry longer than any wait', async () => {
    await waitOnce(app, 'acme');
    const sequence = app.keys.waitSequence('acme');
    expect(await pttl(sequence)).toBeGreaterThan(MAX_TTL_MS);
    expect(await pttl(sequence)).toBeLessThanOrEqual(SEQUENCE_RETENTION_MS);
  });
});

describe.each(DRIVERS.filter((d) => d.name === 'memory'))('lock keys with a retention ($name)', (driver) => {
  let app: LockTestApp;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock(1_700_000_000_000);
    app = await lockTestApp(driver, { ...options, clock });
  });
  afterEach(() => app.close());

  it('forgets a checkFence guard fenceGuardRetentionMs after its last check, like a resource never checked', async () => {
    expect(await app.locks.checkFence('ledger', 5)).toBe(true);
    clock.advance(GUARD_RETENTION_MS - 1);
    expect(await app.locks.checkFence('ledger', 4)).toBe(false);
    // The refused check renewed the guard: a full retention after the first check it still refuses.
    clock.advance(GUARD_RETENTION_MS - 1);
    expect(await app.locks.checkFence('ledger', 4)).toBe(false);
    clock.advance(GUARD_RETENTION_MS);
    expect(await app.locks.checkFence('ledger', 4)).toBe(true);
  });

  it('forgets a tenant\'s wait-order counter a retention longer than any wait after its last wait', async () => {
    await waitOnce(app, 'acme');
    await waitOnce(app, 'globex');
    clock.advance(SEQUENCE_RETENTION_MS - 1);
    expect(await app.store.increment(app.keys.waitSequence('globex'), SEQUENCE_RETENTION_MS)).toBe(2);
    clock.advance(1);
    expect(await app.store.increment(app.keys.waitSequence('acme'), SEQUENCE_RETENTION_MS)).toBe(1);
  });
});
