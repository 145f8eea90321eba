import 'reflect-metadata';
import { InvalidArgumentError, LockService, RateLimitService } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { rejectionOf } from '../support/wait.js';

/**
 * Null and non-object arguments where the public methods expect option objects (or a Date / a
 * number) are input errors: an InvalidArgumentError naming the argument, never a TypeError from
 * reading a property of null or converting a BigInt.
 */
describe('rate-limit and lock arguments of the wrong type', () => {
  let booted: BootedModule;
  let rateLimits: RateLimitService;
  let locks: LockService;
  const policy = { limit: 5, windowMs: 60_000 };
  const checks = [{ key: 'k', policy }];

  beforeAll(async () => {
    booted = await bootModule({ driver: 'memory' });
    rateLimits = booted.get(RateLimitService);
    locks = booted.get(LockService);
  });
  afterAll(() => booted.close());

  const cases: Array<[string, string, () => Promise<unknown>]> = [
    ['getViolations(null)', 'query', () => rateLimits.getViolations(null as never)],
    ['getViolations("x")', 'query', () => rateLimits.getViolations('x' as never)],
    ['getViolations({ since: BigInt })', 'since', () => rateLimits.getViolations({ since: 10n as never })],
    ['getViolations({ since: Symbol })', 'since', () => rateLimits.getViolations({ since: Symbol('s') as never })],
    ['getViolations({ since: "yesterday" })', 'since', () => rateLimits.getViolations({ since: 'yesterday' as never })],
    ['getViolations({ since: "1700000000000" })', 'since', () => rateLimits.getViolations({ since: '1700000000000' as never })],
    ['getViolations({ since: an invalid Date })', 'since', () => rateLimits.getViolations({ since: new Date(NaN) })],
    ['getViolations({ since: {} })', 'since', () => rateLimits.getViolations({ since: {} as never })],
    ['consumeMany(checks, null)', 'options', () => rateLimits.consumeMany(checks, null as never)],
    ['enforceMany(checks, null)', 'options', () => rateLimits.enforceMany(checks, null as never)],
    ['consumeMany(checks, 5)', 'options', () => rateLimits.consumeMany(checks, 5 as never)],
    ['consumeMany([null])', 'checks[0]', () => rateLimits.consumeMany([null as never])],
    ['consumeMany([{ key, policy }, 7])', 'checks[1]', () => rateLimits.consumeMany([...checks, 7 as never])],
    ['consumeMany(null)', 'checks', () => rateLimits.consumeMany(null as never)],
    ['consume(key, null)', 'options', () => rateLimits.consume('k', null as never)],
    ['enforce(key, null)', 'options', () => rateLimits.enforce('k', null as never)],
    ['peek(key, null)', 'options', () => rateLimits.peek('k', null as never)],
    ['reset(key, null)', 'options', () => rateLimits.reset('k', null as never)],
    ['locks.acquire(key, null)', 'options', () => locks.acquire('k', null as never)],
    ['locks.acquireRead(key, null)', 'options', () => locks.acquireRead('k', null as never)],
    ['locks.acquireWrite(key, "x")', 'options', () => locks.acquireWrite('k', 'x' as never)],
    ['locks.withLock(key, fn, null)', 'options', () => locks.withLock('k', () => 1, null as never)],
  ];

  it.each(cases)('%s throws InvalidArgumentError naming %s', async (_name, argument, call) => {
    const error = await rejectionOf(call());
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
  });

  it('still accepts a Date or a number of ms for since, and no query at all', async () => {
    await expect(rateLimits.getViolations()).resolves.toEqual([]);
    await expect(rateLimits.getViolations({ since: new Date(0) })).resolves.toEqual([]);
    await expect(rateLimits.getViolations({ since: 0 })).resolves.toEqual([]);
  });
});
