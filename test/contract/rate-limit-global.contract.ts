import 'reflect-metadata';
import { InvalidArgumentError } from '@nest-coordination/core';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';
import { createRateLimitHarness, uniqueKey, uniqueName, type RateLimitHarness } from './rate-limit-harness.js';

/**
 * Global checks (RateLimitCheck.global) count across tenants, in their own hash slot. Mixed with
 * a tenant's checks they are decided in a second script call, after the others: the assertions
 * below pin what that keeps ("a denial by the others consumes nothing global") and what it costs
 * (a request the global counter denies was charged to the others), identical on every driver.
 */
export function describeRateLimitGlobalContract(driver: DriverCase): void {
  describe(`global rate limits (${driver.name})`, () => {
    let h: RateLimitHarness;
    const W = 60_000;

    beforeAll(async () => {
      h = await createRateLimitHarness(driver);
    });
    afterAll(async () => {
      await h.moduleRef.close();
    });

    it('a global check counts across tenants; the same check without `global` counts per tenant', async () => {
      const global = [{ key: 'export', policy: { name: uniqueName('all'), limit: 2, windowMs: W }, global: true, scope: 'global' }];
      const perTenant = [{ key: 'export', policy: { name: uniqueName('each'), limit: 2, windowMs: W }, scope: 'endpoint' }];
      const tenants = ['acme', 'globex', 'initech'];
      const globally = [];
      const each = [];
      for (const tenant of tenants) {
        globally.push((await h.service.consumeMany(global, { tenant })).allowed);
        each.push((await h.service.consumeMany(perTenant, { tenant })).allowed);
      }
      expect(globally).toEqual([true, true, false]);
      expect(each).toEqual([true, true, true]);
      // the shared namespace and a custom partition count on the same global counter
      expect((await h.service.consumeMany(global, { sharedNamespace: true })).allowed).toBe(false);
      expect((await h.service.consumeMany(global, { tenant: 'acme', partition: 'p1' })).results[0]).toMatchObject({ allowed: false, source: 'deny-cache' });
    });

    it('a partition named "@global" in the shared namespace is not the global counter, either way round', async () => {
      const policy = { name: uniqueName('tag'), limit: 1, windowMs: W };
      const inPartition = [{ key: 'export', policy }];
      const global = [{ key: 'export', policy, global: true }];
      expect((await h.service.consumeMany(inPartition, { sharedNamespace: true, partition: '@global' })).allowed).toBe(true);
      expect((await h.service.consumeMany(global, { tenant: 'acme' })).results[0]).toMatchObject({ allowed: true, remaining: 0 });
      expect((await h.service.consumeMany(inPartition, { sharedNamespace: true, partition: '@global' })).results[0]).toMatchObject({ allowed: false });
      await h.service.reset('export', { ...policy, global: true });
      expect((await h.service.consumeMany(inPartition, { sharedNamespace: true, partition: '@global' })).allowed).toBe(false);
    });

    it('several global checks of one call are one atomic script: a denial by one consumes from none', async () => {
      const wide = { name: uniqueName('wide'), limit: 5, windowMs: W };
      const narrow = { name: uniqueName('narrow'), limit: 1, windowMs: W, algorithm: 'gcra' as const };
      const checks = [{ key: 'a', policy: wide, global: true }, { key: 'b', policy: narrow, global: true }];
      expect((await h.service.consumeMany(checks, { tenant: 'acme' })).allowed).toBe(true);
      const denied = await h.service.consumeMany(checks, { tenant: 'globex' });
      expect(denied).toMatchObject({ allowed: false, violated: { policy: narrow.name } });
      expect(denied.results.map((r) => [r.allowed, r.remaining])).toEqual([[true, 4], [false, 0]]);
    });

    it('mixed with tenant checks: a denial by the tenant checks consumes nothing global; results keep the order of the checks', async () => {
      const globalPolicy = { name: uniqueName('endpoint-all'), limit: 2, windowMs: W };
      const userPolicy = { name: 'user', limit: 1, windowMs: W };
      const mixed = (user: string) => [
        { key: 'run', policy: globalPolicy, global: true, scope: 'global' },
        { key: user, policy: userPolicy, scope: 'user' },
      ];
      const ada = uniqueKey('ada');
      const first = await h.service.consumeMany(mixed(ada), { tenant: 'acme' });
      expect(first).toMatchObject({ allowed: true, source: h.primary });
      expect(first.results.map((r) => [r.policy, r.remaining])).toEqual([[globalPolicy.name, 1], ['user', 0]]);
      // ada is over her own limit: denied before the global counter is asked
      const again = await h.service.consumeMany(mixed(ada), { tenant: 'acme' });
      expect(again).toMatchObject({ allowed: false, violated: { policy: 'user', key: ada } });
      expect(again.results.map((r) => r.policy)).toEqual(['user']);
      // so the global counter still has its last unit for someone else, in another tenant
      const bob = uniqueKey('bob');
      expect((await h.service.consumeMany(mixed(bob), { tenant: 'globex' })).allowed).toBe(true);
    });

    it('mixed with tenant checks: a request the global counter denies was charged to the tenant checks (documented), then the deny cache answers', async () => {
      const globalPolicy = { name: uniqueName('exhausted'), limit: 1, windowMs: W };
      const userPolicy = { name: 'user', limit: 1, windowMs: W };
      const mixed = (user: string) => [
        { key: user, policy: userPolicy, scope: 'user' },
        { key: 'run', policy: globalPolicy, global: true, scope: 'global' },
      ];
      expect((await h.service.consumeMany(mixed(uniqueKey('first')), { tenant: 'acme' })).allowed).toBe(true);
      const carol = uniqueKey('carol');
      const denied = await h.service.consumeMany(mixed(carol), { tenant: 'globex' });
      expect(denied).toMatchObject({ allowed: false, source: h.primary, violated: { policy: globalPolicy.name } });
      expect(denied.results.map((r) => [r.policy, r.allowed, r.remaining])).toEqual([['user', true, 0], [globalPolicy.name, false, 0]]);
      // carol's own counter was charged by the denied request
      expect(await h.service.peek(carol, { ...userPolicy, partition: 'tenant', tenant: 'globex' })).toMatchObject({ allowed: false, remaining: 0 });
      // from now on this instance knows the global counter is exhausted: dave is not charged
      const dave = uniqueKey('dave');
      const cached = await h.service.consumeMany(mixed(dave), { tenant: 'initech' });
      expect(cached).toMatchObject({ allowed: false, source: 'deny-cache', violated: { policy: globalPolicy.name } });
      expect(await h.service.peek(dave, { ...userPolicy, partition: 'tenant', tenant: 'initech' })).toMatchObject({ allowed: true, remaining: 1 });
    });

    it('records a global denial in the violation log of the tenant that was denied', async () => {
      const policy = { name: uniqueName('logged'), limit: 1, windowMs: W };
      const checks = [{ key: 'logged', policy, global: true, scope: 'global' }];
      await h.service.consumeMany(checks, { tenant: 'acme' });
      await h.service.consumeMany(checks, { tenant: 'globex' });
      expect(await h.service.getViolations({ tenant: 'globex', key: 'logged' })).toEqual([
        expect.objectContaining({ tenant: 'globex', key: 'logged', scope: 'global', policy: policy.name }),
      ]);
      expect(await h.service.getViolations({ tenant: 'acme', key: 'logged' })).toEqual([]);
    });

    it('consume, peek and reset reach the same global counter with `global: true`, from any tenant', async () => {
      const policy = { name: uniqueName('single'), limit: 2, windowMs: W };
      expect(await h.service.consume('single', { ...policy, global: true, tenant: 'acme' })).toMatchObject({ allowed: true, remaining: 1 });
      expect((await h.service.consumeMany([{ key: 'single', policy, global: true }], { tenant: 'globex' })).results[0].remaining).toBe(0);
      expect(await h.service.peek('single', { ...policy, global: true, tenant: 'initech' })).toMatchObject({ allowed: false, remaining: 0 });
      // the tenant's own counter of the same key and policy is another one
      expect(await h.service.peek('single', { ...policy, tenant: 'acme' })).toMatchObject({ allowed: true, remaining: 2 });
      await h.service.reset('single', { ...policy, global: true });
      expect(await h.service.enforce('single', { ...policy, global: true, tenant: 'umbrella' })).toMatchObject({ allowed: true, remaining: 1 });
    });

    it('rejects a `global` that is not a boolean, or global with a partition, naming it', async () => {
      const bad: Array<[() => Promise<unknown>, string]> = [
        [() => h.service.consumeMany([{ key: 'k', policy: { limit: 1, windowMs: W }, global: 'yes' as never }]), 'checks[0].global'],
        [() => h.service.consume('k', { limit: 1, windowMs: W, global: 1 as never }), 'global'],
        [() => h.service.peek('k', { limit: 1, windowMs: W, global: true, partition: 'p' }), 'global'],
      ];
      for (const [call, argument] of bad) {
        const error = await rejectionOf(call());
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toBe(argument);
      }
    });
  });
}
