import 'reflect-metadata';
import { jest } from '@jest/globals';
import { InvalidArgumentError, InvalidKeyError, RateLimitedError, type RateLimitAlert } from '@nest-coordination/core';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';
import { describeRateLimitAlgorithmsContract } from './rate-limit-algorithms.contract.js';
import { describeRateLimitDefaultClockContract } from './rate-limit-default-clock.contract.js';
import { describeRateLimitGlobalContract } from './rate-limit-global.contract.js';
import { createRateLimitHarness, uniqueKey, uniqueName, type RateLimitHarness } from './rate-limit-harness.js';

/**
 * The service-level contract of rate limits, the same assertions for every driver: the
 * algorithms (rate-limit-algorithms.contract.ts), multi-policy checks, throwing vs returning,
 * the deny cache, violations and input validation (here), global checks across tenants
 * (rate-limit-global.contract.ts), and the production default clock (rate-limit-default-clock.contract.ts). The store-level contract is
 * stores/rate-limit-store.contract.ts.
 */
export function describeRateLimitContract(driver: DriverCase): void {
  describeRateLimitAlgorithmsContract(driver);

  describe(`rate limits contract (${driver.name})`, () => {
    let h: RateLimitHarness;
    const W = 60_000;

    beforeAll(async () => {
      h = await createRateLimitHarness(driver, { rateLimit: { violations: { alertThreshold: 3, alertWindowMs: 60_000 } } });
    });
    afterAll(async () => {
      await h.moduleRef.close();
    });

    it('multi-policy: a request denied by one policy consumes from none', async () => {
      const user = uniqueKey('user');
      const checks = [
        { key: user, policy: { name: 'user', limit: 5, windowMs: 60_000 }, scope: 'user' },
        { key: 'company', policy: { name: uniqueName('company'), limit: 1, windowMs: 60_000, algorithm: 'gcra' as const }, scope: 'tenant' },
      ];
      const first = await h.service.consumeMany(checks);
      expect(first.allowed).toBe(true);
      expect(first.results.map((r) => r.remaining)).toEqual([4, 0]);
      const second = await h.service.consumeMany(checks);
      expect(second.allowed).toBe(false);
      expect(second.violated?.policy).toBe(checks[1].policy.name);
      expect(second.results[0]).toMatchObject({ allowed: true, remaining: 4 });
      const userState = await h.service.peek(user, { ...checks[0].policy, partition: 'tenant' });
      expect(userState.remaining).toBe(4);
    });

    it('enforce returns the result while allowed and throws RateLimitedError when denied, consuming nothing more', async () => {
      const k = uniqueKey('enforce');
      const policy = { name: 'enf', limit: 1, windowMs: W };
      expect(await h.service.enforce(k, policy)).toMatchObject({ allowed: true, remaining: 0, source: h.primary });
      const error = await rejectionOf(h.service.enforce(k, policy));
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(error).toMatchObject({ code: 'E_RATE_LIMITED', retryAfterMs: W, result: { allowed: false, key: k, policy: 'enf', source: h.primary } });
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: false, remaining: 0 });
    });

    it('enforceMany returns the decision when every policy allows, and throws the violated result (nothing consumed) otherwise', async () => {
      const user = uniqueKey('enforce-many');
      const company = uniqueName('company');
      const checks = [
        { key: user, policy: { name: 'user', limit: 5, windowMs: W }, scope: 'user' },
        { key: 'company', policy: { name: company, limit: 1, windowMs: W, algorithm: 'gcra' as const }, scope: 'tenant' },
      ];
      const first = await h.service.enforceMany(checks);
      expect(first).toMatchObject({ allowed: true, source: h.primary });
      expect(first.results.map((r) => r.remaining)).toEqual([4, 0]);
      const error = await rejectionOf(h.service.enforceMany(checks));
      expect(error).toBeInstanceOf(RateLimitedError);
      const denied = error as RateLimitedError;
      expect(denied.result).toMatchObject({ allowed: false, policy: company, key: 'company' });
      expect(denied.decision).toMatchObject({ allowed: false, source: h.primary });
      expect(denied.decision!.violated).toBe(denied.result);
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      // the user policy allowed, but nothing was taken from it
      expect((await h.service.peek(user, { ...checks[0].policy, partition: 'tenant' })).remaining).toBe(4);
      // answered by the deny cache the next time: still a throw, with the cached result
      await expect(h.service.enforceMany(checks)).rejects.toMatchObject({ code: 'E_RATE_LIMITED', result: { source: 'deny-cache', policy: company } });
    });

    it('sharedNamespace counts in the shared namespace on explicit request, and cannot name a tenant too', async () => {
      const checks = [{ key: uniqueKey('shared'), policy: { name: uniqueName('shared'), limit: 1, windowMs: W } }];
      expect((await h.service.consumeMany(checks, { sharedNamespace: true })).allowed).toBe(true);
      // without tenancy.required, a call with no tenant in context counts there too: the same counter
      expect((await h.service.consumeMany(checks)).allowed).toBe(false);
      expect((await h.service.consumeMany(checks, { tenant: 'acme' })).allowed).toBe(true);
      const error = await rejectionOf(h.service.consumeMany(checks, { sharedNamespace: true, tenant: 'acme' }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('sharedNamespace');
    });

    it('answers a key known to be blocked from the deny cache until its retry time', async () => {
      const k = uniqueKey('deny');
      const policy = { limit: 1, windowMs: W };
      await h.service.consume(k, policy);
      const denied = await h.service.consume(k, policy);
      expect(denied).toMatchObject({ allowed: false, source: h.primary, retryAfterMs: W });
      const cached = await h.service.consume(k, policy);
      expect(cached).toMatchObject({ allowed: false, source: 'deny-cache', policy: denied.policy, retryAfterMs: W, remaining: 0 });
      h.advance(W - 1);
      expect(await h.service.consume(k, policy)).toMatchObject({ allowed: false, source: 'deny-cache', retryAfterMs: 1 });
      h.advance(1);
      expect(await h.service.consume(k, policy)).toMatchObject({ allowed: true, source: h.primary });
    });

    it('answers from the deny cache only for the policy that denied (not a higher limit on the same counter)', async () => {
      const k = uniqueKey('deny-policy');
      const strict = { name: 'dp', limit: 1, windowMs: W };
      await h.service.consume(k, strict);
      expect(await h.service.consume(k, strict)).toMatchObject({ allowed: false, source: h.primary });
      expect(await h.service.consume(k, strict)).toMatchObject({ allowed: false, source: 'deny-cache' });
      expect(await h.service.consume(k, { ...strict, limit: 5 })).toMatchObject({ allowed: true, source: h.primary, remaining: 3 });
      const other = { name: 'dp2', limit: 1, windowMs: W };
      await h.service.consume(k, other);
      expect(await h.service.consume(k, other)).toMatchObject({ allowed: false, source: h.primary });
      // a longer window still holds the admission: the store itself denies, with its own retry time
      expect(await h.service.consume(k, { ...other, windowMs: 2 * W })).toMatchObject({ allowed: false, source: h.primary, retryAfterMs: 2 * W });
    });

    it('records violations per tenant, queryable by key, scope and time', async () => {
      const k = uniqueKey('v');
      const policy = { name: 'viol', limit: 1, windowMs: 60_000 };
      const at = h.clock!.now(); // every violation below is recorded at this instant
      await h.service.consume(k, { ...policy, tenant: 'acme' });
      await h.service.consume(k, { ...policy, tenant: 'acme' });
      await h.service.consumeMany([{ key: k, policy, scope: 'user' }], { tenant: 'acme' });
      await h.service.consumeMany([{ key: k, policy, scope: 'user' }], { tenant: 'acme' });
      const mine = await h.service.getViolations({ tenant: 'acme', key: k });
      expect(mine).toHaveLength(2);
      expect(mine[0]).toMatchObject({ tenant: 'acme', key: k, policy: 'viol', limit: 1, algorithm: 'sliding-window' });
      expect(await h.service.getViolations({ tenant: 'acme', key: k, scope: 'user' })).toHaveLength(1);
      expect(await h.service.getViolations({ tenant: 'other', key: k })).toHaveLength(0);
      expect(await h.service.getViolations({ tenant: 'acme', key: k, since: new Date(8_000_000_000_000) })).toHaveLength(0);
      expect(await h.service.getViolations({ tenant: 'acme', key: k, since: at })).toHaveLength(2);
      expect(await h.service.getViolations({ tenant: 'acme', key: k, since: at + 1 })).toHaveLength(0);
      expect(mine.every((v) => v.at === at)).toBe(true);
    });

    it('publishes ratelimit.violation and fires ratelimit.alert once at the threshold', async () => {
      const k = uniqueKey('alert');
      const alerts: RateLimitAlert[] = [];
      const violations: unknown[] = [];
      const a = h.events.on<RateLimitAlert>('ratelimit.alert', { tenant: 'alerts' });
      const v = h.events.on('ratelimit.violation', { tenant: 'alerts' });
      const subs = [a.subscribe((e) => alerts.push(e.payload)), v.subscribe((e) => violations.push(e.payload))];
      await Promise.all([a.ready(), v.ready()]);
      const policy = { limit: 1, windowMs: 60_000, tenant: 'alerts' };
      for (let i = 0; i < 6; i++) await h.service.consume(k, policy);
      await h.service.getViolations({ tenant: 'alerts' });
      await until(() => alerts.length >= 1 && violations.length >= 5, {
        timeoutMs: 5_000, message: () => `an alert and 5 violation events (got ${alerts.length} and ${violations.length})`,
      });
      subs.forEach((s) => s.unsubscribe());
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ tenant: 'alerts', key: k, violations: 3, threshold: 3 });
    });

    it('rejects bad input with typed errors naming the argument, before touching the store', async () => {
      const spy = jest.spyOn(h.store, 'check');
      const bad: Array<[() => Promise<unknown>, string]> = [
        [() => h.service.consume('k', { limit: 0, windowMs: 1_000 }), 'limit'],
        [() => h.service.consume('k', { limit: -1, windowMs: 1_000 }), 'limit'],
        [() => h.service.consume('k', { limit: NaN, windowMs: 1_000 }), 'limit'],
        [() => h.service.consume('k', { limit: 1.5, windowMs: 1_000 }), 'limit'],
        [() => h.service.consume('k', { limit: Infinity, windowMs: 1_000 }), 'limit'],
        [() => h.service.consume('k', { limit: 1, windowMs: 0 }), 'windowMs'],
        [() => h.service.consume('k', { limit: 1, windowMs: NaN }), 'windowMs'],
        [() => h.service.consume('k', { limit: 2, windowMs: 1_000, cost: 3 }), 'cost'],
        [() => h.service.consume('k', { limit: 2, windowMs: 1_000, cost: 0 }), 'cost'],
        [() => h.service.consume('k', { limit: 2, windowMs: 1_000, algorithm: 'leaky' as never }), 'algorithm'],
        [() => h.service.consume('k', { limit: 2, windowMs: 1_000, burst: 3 }), 'burst'],
        [() => h.service.consumeMany([{ key: 'a', policy: { limit: 1, windowMs: -5 } }]), 'checks[0].policy.windowMs'],
        [() => h.service.consumeMany([]), 'checks'],
      ];
      for (const [call, argument] of bad) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe(argument);
      }
      for (const k of ['user:*', 'a{b}', 'x?y', '[a]', 'back\\slash', '']) {
        await expect(h.service.consume(k, { limit: 1, windowMs: 1_000 })).rejects.toBeInstanceOf(InvalidKeyError);
      }
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    });
  });

  describeRateLimitGlobalContract(driver);
  describeRateLimitDefaultClockContract(driver);
}
