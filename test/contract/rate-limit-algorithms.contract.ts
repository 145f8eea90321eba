import 'reflect-metadata';
import { InvalidArgumentError } from '@nest-coordination/core';
import { normalizePolicy } from '../support/internals.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { retryAfterFullBurst } from './rate-limit-expectations.js';
import { ALL_ALGORITHMS, createRateLimitHarness, uniqueKey, type RateLimitHarness } from './rate-limit-harness.js';

/**
 * What each algorithm admits and denies, exactly, through RateLimitService on a ManualClock
 * (see createRateLimitHarness): limits, retry and reset times, cost, peek and reset, and the
 * boundary behaviour that tells the algorithms apart.
 */
export function describeRateLimitAlgorithmsContract(driver: DriverCase): void {
  describe(`rate-limit algorithms contract (${driver.name})`, () => {
    let h: RateLimitHarness;
    const W = 60_000;
    /** ms elapsed since the start of the aligned window (fixed-window, sliding-window-approx). */
    const offset = () => h.clock!.now() % W;

    beforeAll(async () => {
      h = await createRateLimitHarness(driver);
    });
    afterAll(async () => {
      await h.moduleRef.close();
    });

    describe.each(ALL_ALGORITHMS)('%s', (algorithm) => {
      it('allows up to the limit, then denies with a retry time within the window', async () => {
        const k = uniqueKey(algorithm);
        const policy = { limit: 3, windowMs: W, algorithm };
        const results = [];
        for (let i = 0; i < 3; i++) results.push(await h.service.consume(k, policy));
        expect(results.map((r) => r.allowed)).toEqual([true, true, true]);
        expect(results.map((r) => r.remaining)).toEqual([2, 1, 0]);
        expect(results[0]).toMatchObject({ key: k, limit: 3, policy: `3-per-${W}ms`, source: h.primary });
        expect(results[0].resetAt).toBeInstanceOf(Date);
        const denied = await h.service.consume(k, policy);
        expect(denied.allowed).toBe(false);
        expect(denied.remaining).toBe(0);
        // All four calls at one instant: each algorithm's retry time is known exactly.
        expect(denied.retryAfterMs).toBe(retryAfterFullBurst(algorithm, W, offset()));
      });

      it('allows again once the retry time has passed', async () => {
        const k = uniqueKey(algorithm);
        const policy = { limit: 2, windowMs: W, algorithm };
        await h.service.consume(k, policy);
        await h.service.consume(k, policy);
        const denied = await h.service.consume(k, policy);
        expect(denied.allowed).toBe(false);
        h.advance(denied.retryAfterMs! - 1);
        // peek asks the store (the deny cache only answers consumes): still denied 1 ms before
        expect((await h.service.peek(k, policy)).allowed).toBe(false);
        h.advance(1);
        const again = await h.service.consume(k, policy);
        expect(again.allowed).toBe(true);
        expect(again.source).toBe(h.primary);
      });

      it('restores the whole quota after resetAfterMs with no traffic', async () => {
        const k = uniqueKey(algorithm);
        const policy = { limit: 3, windowMs: W, algorithm };
        let last;
        for (let i = 0; i < 3; i++) last = await h.service.consume(k, policy);
        h.advance(last!.resetAfterMs - 1);
        expect((await h.service.peek(k, policy)).remaining).toBeLessThan(3);
        h.advance(1);
        const peek = await h.service.peek(k, policy);
        expect(peek.allowed).toBe(true);
        expect(peek.remaining).toBe(3);
      });

      it('takes cost units and consumes nothing when the cost does not fit', async () => {
        const k = uniqueKey(algorithm);
        const policy = { limit: 5, windowMs: 60_000, algorithm };
        expect((await h.service.consume(k, { ...policy, cost: 3 })).remaining).toBe(2);
        const denied = await h.service.consume(k, { ...policy, cost: 3 });
        expect(denied.allowed).toBe(false);
        expect(denied.remaining).toBe(2);
        const fits = await h.service.consume(k, { ...policy, cost: 2 });
        expect(fits).toMatchObject({ allowed: true, remaining: 0 });
      });

      it('peek does not consume; reset forgets the counter', async () => {
        const k = uniqueKey(algorithm);
        const policy = { limit: 2, windowMs: 60_000, algorithm };
        expect(await h.service.peek(k, policy)).toMatchObject({ allowed: true, remaining: 2 });
        await h.service.consume(k, policy);
        await h.service.consume(k, policy);
        expect(await h.service.peek(k, policy)).toMatchObject({ allowed: false, remaining: 0 });
        expect((await h.service.consume(k, policy)).allowed).toBe(false);
        await h.service.reset(k, policy);
        expect(await h.service.consume(k, policy)).toMatchObject({ allowed: true, remaining: 1, source: h.primary });
      });
    });

    it('sliding-window: a full window stays full until its oldest admission leaves (no boundary burst)', async () => {
      const k = uniqueKey('sw-boundary');
      const policy = { limit: 3, windowMs: W, algorithm: 'sliding-window' as const };
      for (let i = 0; i < 3; i++) expect((await h.service.consume(k, policy)).allowed).toBe(true);
      h.advance(W / 2);
      expect((await h.service.peek(k, policy)).allowed).toBe(false);
      const denied = await h.service.consume(k, policy);
      expect(denied).toMatchObject({ allowed: false, retryAfterMs: W / 2 });
      h.advance(W / 2 - 1);
      expect((await h.service.peek(k, policy)).allowed).toBe(false);
      h.advance(1); // the admissions are exactly one window old: out of (now - W, now]
      for (let i = 0; i < 3; i++) expect((await h.service.consume(k, policy)).allowed).toBe(true);
      expect((await h.service.consume(k, policy)).allowed).toBe(false);
    });

    it('fixed-window: the quota comes back whole at the window boundary', async () => {
      const k = uniqueKey('fw-boundary');
      const policy = { limit: 3, windowMs: W, algorithm: 'fixed-window' as const };
      for (let i = 0; i < 3; i++) await h.service.consume(k, policy);
      const denied = await h.service.consume(k, policy);
      expect(denied.allowed).toBe(false);
      expect(denied.retryAfterMs).toBe(W - offset());
      expect(denied.resetAfterMs).toBe(W - offset());
      h.advance(denied.resetAfterMs - 1);
      expect((await h.service.peek(k, policy)).allowed).toBe(false);
      h.advance(1); // exactly the boundary
      expect(offset()).toBe(0);
      for (let i = 0; i < 3; i++) expect((await h.service.consume(k, policy)).allowed).toBe(true);
      expect((await h.service.consume(k, policy)).allowed).toBe(false);
    });

    it('token-bucket: burst sets the capacity, refill is gradual', async () => {
      const k = uniqueKey('tb');
      const policy = { limit: 4, windowMs: 4 * W, burst: 2, algorithm: 'token-bucket' as const };
      expect((await h.service.consume(k, policy)).remaining).toBe(1);
      expect((await h.service.consume(k, policy)).remaining).toBe(0);
      const denied = await h.service.consume(k, policy);
      // one token every W ms
      expect(denied.retryAfterMs).toBe(W);
      h.advance(W - 1);
      expect((await h.service.peek(k, policy)).allowed).toBe(false);
      h.advance(1);
      expect((await h.service.consume(k, policy)).allowed).toBe(true);
      expect((await h.service.consume(k, policy)).allowed).toBe(false);
    });

    it('sliding-window: takes a large cost in one call, and caps the limit at 100000', async () => {
      const k = uniqueKey('sw-large');
      const policy = { limit: 10_000, windowMs: W, algorithm: 'sliding-window' as const };
      expect(await h.service.consume(k, { ...policy, cost: 5_000 })).toMatchObject({ allowed: true, remaining: 5_000 });
      expect(await h.service.consume(k, { ...policy, cost: 5_000 })).toMatchObject({ allowed: true, remaining: 0 });
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: false, remaining: 0 });
      const error = await h.service.consume(k, { limit: 100_001, windowMs: W }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('limit');
      expect((error as Error).message).toMatch(/sorted-set member/);
      // other algorithms keep constant state: no such cap
      expect((await h.service.consume(k, { limit: 100_001, windowMs: W, algorithm: 'gcra' })).allowed).toBe(true);
    });

    it('sliding-window: peek reports reset 0 on an empty log, and when the newest entry leaves otherwise', async () => {
      const k = uniqueKey('sw-peek');
      const policy = { limit: 3, windowMs: W, algorithm: 'sliding-window' as const };
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: true, remaining: 3, resetAfterMs: 0 });
      await h.service.consume(k, policy);
      h.advance(1_000);
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: true, remaining: 2, resetAfterMs: W - 1_000 });
    });

    it('decides on the injected clock (the store answer carries its time, in us)', async () => {
      const policy = { limit: 1, windowMs: W };
      h.advance(123);
      const reply = await h.store.check([`${uniquePrefix('rlclock')}:{k}`], [normalizePolicy(policy)], 1, false);
      expect(reply.nowUs).toBe(h.clock!.now() * 1_000);
      // One admission at this instant: the quota is whole again one window from now (an empty log is reset already).
      const clocked = uniqueKey('clock');
      await h.service.consume(clocked, policy);
      expect((await h.service.peek(clocked, policy)).resetAt.getTime()).toBe(h.clock!.now() + W);
    });
  });
}
