import 'reflect-metadata';
// Metrics of lock renewals: each automatic renewal, and each one Redis did not answer.
import { LockLostError, LockService } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { privateServerPerTest } from '../support/private-server.js';
import { nextEvent, until } from '../support/wait.js';

const WAIT = { timeoutMs: 15_000 };
const MUTEX = { kind: 'mutex' };

describe.each(DRIVERS)('lock_renewals_total on $name', (driver) => {
  let app: BootedModule;

  afterEach(async () => {
    await app?.close();
  });

  it('counts each automatic renewal of a held lock by kind, and no explicit extend', async () => {
    app = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
    const locks = app.get(LockService);
    const renewals = () => app.core.metrics.counter('lock_renewals_total', MUTEX);
    // Renewed every ~100 ms (ttl / 3).
    const lock = await locks.acquire('renewed', { ttlMs: 300, tenant: 'acme' });
    await lock.extend(300);
    expect(renewals()).toBe(0);
    await until(() => lock.renewals >= 2, { ...WAIT, message: 'two renewals of the lock' });
    expect(renewals()).toBe(lock.renewals);
    await lock.release();
    const permit = await locks.acquirePermit('pool', { permits: 2, ttlMs: 300, tenant: 'acme' });
    await until(() => app.core.metrics.counter('lock_renewals_total', { kind: 'permit' }) >= 1, { ...WAIT, message: 'a renewal of the permit' });
    await permit.release();
    expect(app.core.metrics.counter('lock_renewal_failures_total', MUTEX)).toBe(0);
  });
});

describe('lock_renewal_failures_total on a private server', () => {
  const env = privateServerPerTest();

  it('counts each renewal Redis did not answer, then the lost lock', async () => {
    const app = await env.boot({ health: { pingIntervalMs: 0 } });
    const metrics = app.core.metrics;
    const lock = await app.get(LockService).acquire('unrenewable', { ttlMs: 1_500, tenant: 'acme' });
    const lost = nextEvent(lock.signal, 'abort', { ...WAIT, message: 'the lock to be lost' });
    await env.server.kill();
    await until(() => metrics.counter('lock_renewal_failures_total', MUTEX) >= 2, { ...WAIT, message: 'two failed renewals' });
    await lost;
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(metrics.counter('lock_lost_total', MUTEX)).toBe(1);
    expect(metrics.counter('lock_renewals_total', MUTEX)).toBe(lock.renewals);
  });
});
