import 'reflect-metadata';
// The dashboard's rate-limit decisions: one per checked request, however many rules it has.
import { CacheService, RateLimitService, type RateLimitPolicy } from '@nest-coordination/core';
import { InstanceHistory } from '../../apps/demo/src/dashboard/instance-history.js';
import { bootModule, type BootedModule } from '../support/boot.js';

const T0 = Date.UTC(2026, 0, 5, 10, 41, 0);
const USER: RateLimitPolicy = { name: 'user', limit: 1, windowMs: 60_000 };
const COMPANY: RateLimitPolicy = { name: 'company', limit: 100, windowMs: 60_000 };

describe('InstanceHistory', () => {
  let booted: BootedModule;

  afterEach(async () => {
    await booted?.close();
  });

  it('counts each rate-limit check once, not once per rule it passed', async () => {
    booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, rateLimit: { heartbeatIntervalMs: 0 } });
    const history = new InstanceHistory(booted.core, booted.get(CacheService));
    const limits = booted.get(RateLimitService);
    history.sample(T0);

    const rules = [{ key: 'ada', policy: USER }, { key: 'acme', policy: COMPANY }];
    expect((await limits.consumeMany(rules, { tenant: 'acme' })).allowed).toBe(true);
    expect((await limits.consumeMany(rules, { tenant: 'acme' })).allowed).toBe(false);
    history.sample(T0 + 1_000);

    expect(history.minutes(T0 + 1_000).at(-1)).toMatchObject({ minuteMs: T0, allowed: 1, denied: 1 });
  });
});
