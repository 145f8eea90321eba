import 'reflect-metadata';
import { LockService, type Lock } from '@nest-coordination/core';
import { CoordinationCore } from '../../libs/coordination/src/core/coordination-core.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { TestSpans, useAsyncContext } from '../support/otel-traces.js';
import { until } from '../support/wait.js';

useAsyncContext();

const TENANT = 'acme';

/**
 * One timer serves every held lock of a LockService (renewals, expiry checks). Whatever it runs
 * for a lock (its signal's listeners on expiry, a renewal) must not run in the context of the
 * request that happened to arm it: not in that request's trace, not as that request's tenant.
 */
describe('the locks\' shared timer runs in no request\'s context', () => {
  let otel: TestSpans;
  let booted: BootedModule;

  beforeAll(async () => {
    otel = new TestSpans();
    booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider } });
  });

  afterAll(async () => {
    await booted?.close();
    await otel?.shutdown();
  });

  /**
   * Lock `x` is taken inside `request` (which arms the timer: its expiry comes first), then lock
   * `y` outside of it; resolves with what `y`'s abort listener saw when `y` expired.
   */
  async function expiryOfAnother<T>(request: (take: () => Promise<Lock>) => Promise<unknown>, look: () => T): Promise<T> {
    const locks = booted.get(LockService);
    await request(() => locks.acquire(`x-${Math.random()}`, { tenant: 'globex', ttlMs: 200, autoRenew: false }));
    const y = await locks.acquire(`y-${Math.random()}`, { tenant: TENANT, ttlMs: 600, autoRenew: false });
    let seen: { value: T } | undefined;
    y.signal.addEventListener('abort', () => (seen = { value: look() }));
    return (await until(() => seen, { timeoutMs: 10_000, message: 'the expiry of lock y' })).value;
  }

  it('an expired lock\'s listeners do not see the tenant of the request that armed the timer', async () => {
    const { tenants } = booted.get(CoordinationCore);
    const tenant = await expiryOfAnother((take) => tenants.run('globex', take), () => tenants.current());
    expect(tenant).toBeUndefined();
  });

  it('an expired lock\'s listeners are not in the trace of the request that armed the timer', async () => {
    otel.reset();
    await expiryOfAnother((take) => otel.inSpan('GET /x', take), () => otel.provider.getTracer('user').startSpan('user.onLost').end());
    const onLost = otel.one('user.onLost');
    expect(onLost.parentSpanContext).toBeUndefined();
    expect(onLost.spanContext().traceId).not.toBe(otel.one('GET /x').spanContext().traceId);
  });
});
