import { runInThisContext } from 'node:vm';
import { DRIVERS } from '../support/drivers.js';
import { contended, lockTestApp, type LockTestApp } from './lock-test-app.js';

/**
 * Every waiter listens on the service's shutdown signal while it waits: a busy lock may have
 * any number of them, which is no leak, so Node must not warn about a listener leak
 * (MaxListenersExceededWarning past 10 listeners of one AbortSignal).
 */
/**
 * The process Node emits warnings on. A Jest test sees a copy of `process` whose listeners
 * Node never calls; code run in the main context sees the real one.
 */
const nodeProcess = runInThisContext('process') as NodeJS.Process;

describe.each(DRIVERS)('many waiters on one lock ($name)', (driver) => {
  let app: LockTestApp | undefined;
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeEach(() => {
    warnings.length = 0;
    nodeProcess.on('warning', onWarning);
  });
  afterEach(async () => {
    nodeProcess.off('warning', onWarning);
    await app?.close();
  });

  it('20 waiters: no MaxListenersExceededWarning', async () => {
    app = await lockTestApp(driver);
    const locks = app.locks;
    const holder = await locks.acquire('busy', { ttlMs: 10_000 });
    const waiters = Array.from({ length: 20 }, async (_, i) => {
      const lock = await locks.acquire('busy', { ttlMs: 10_000, waitMs: 20_000, owner: `w${i}` });
      await lock.release();
    });
    await contended(app, 20);
    await holder.release();
    await Promise.all(waiters);
    // process.emitWarning delivers on the next tick: one more turn for it to arrive.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map(String)).toEqual([]);
  });
});
