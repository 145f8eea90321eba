import { InvalidArgumentError, LockService } from '@nest-coordination/core';
import { createCoordinationTestingModule, type CoordinationTestingContext } from '@nest-coordination/core/testing';

/** Options arguments that are not objects get a typed error naming them, on every LockService method. */
describe('LockService: options that are not objects', () => {
  let t: CoordinationTestingContext;
  let locks: LockService;
  beforeAll(async () => {
    t = await createCoordinationTestingModule();
    locks = t.get(LockService);
  });
  afterAll(() => t.close());

  const bad: unknown[] = [null, 'acme', 42];
  it.each(bad)('rejects %p as the options of isLocked, checkFence, tryAcquire and acquire', async (options) => {
    const calls: Array<() => Promise<unknown>> = [
      () => locks.isLocked('report', options as never),
      () => locks.checkFence('report', 1, options as never),
      () => locks.tryAcquire('report', options as never),
      () => locks.acquire('report', options as never),
    ];
    for (const call of calls) {
      const error = await call().then(() => 'resolved', (e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ code: 'E_INVALID_ARGUMENT', details: expect.objectContaining({ argument: 'options' }) });
    }
    // Nothing was taken on the way.
    expect(await locks.isLocked('report', { tenant: 'acme' })).toBe(false);
    expect(await locks.isLocked('report')).toBe(false);
  });
});
