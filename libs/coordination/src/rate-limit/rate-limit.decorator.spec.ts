import 'reflect-metadata';
import { Reflector } from '@nestjs/core';
import { RATE_LIMIT_METADATA, RateLimit, type RateLimitMetadata, type RateLimitRule } from './rate-limit.decorator.js';

describe('@RateLimit()', () => {
  it('keeps frozen copies of its rules, fixed when it runs: a later change to the objects it was given changes nothing', () => {
    const perUser: RateLimitRule = { scope: 'user', limit: 10, windowMs: 1_000 };
    const perCompany: RateLimitRule = { scope: 'tenant', name: 'company', limit: 1_000, windowMs: 60_000 };
    const given = [perUser, perCompany];
    class CrewsController {
      @RateLimit(given, { cost: 2 })
      run() {}
      @RateLimit(perUser)
      list() {}
    }
    const read = (handler: () => void) => new Reflector().get<RateLimitMetadata>(RATE_LIMIT_METADATA, handler);

    // The caller's objects stay theirs to change...
    expect(Object.isFrozen(perUser)).toBe(false);
    perUser.limit = 5;
    (perCompany as { name?: string }).name = 'renamed';
    given.push({ scope: 'ip', limit: 1, windowMs: 1_000 });

    // ...and what the guard, its hooks and anyone reading the metadata get is what the decorator saw.
    const run = read(CrewsController.prototype.run);
    expect(run).toEqual({ rules: [{ scope: 'user', limit: 10, windowMs: 1_000 }, { scope: 'tenant', name: 'company', limit: 1_000, windowMs: 60_000 }], cost: 2 });
    expect(read(CrewsController.prototype.list).rules).toEqual([{ scope: 'user', limit: 10, windowMs: 1_000 }]);
    expect(Object.isFrozen(run)).toBe(true);
    expect(Object.isFrozen(run.rules)).toBe(true);
    for (const rule of run.rules) expect(Object.isFrozen(rule)).toBe(true);
    expect(() => {
      (run.rules[0] as { limit: number }).limit = 1;
    }).toThrow(TypeError);
  });
});
