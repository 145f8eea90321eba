import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationCore, CoordinationModule, EventBus, InvalidArgumentError, InvalidKeyError, ManualClock, RATE_LIMIT_STORE, RateLimitService,
  normalizePolicy, type CoordinationModuleOptions, type RateLimitAlert, type RateLimitAlgorithm, type RateLimitStore,
} from '@nest-coordination/core';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';

/**
 * The same assertions for every driver. Time moves only through `advance(ms)`, a ManualClock
 * injected into the module: the memory store reads it, and the Redis scripts take its time as
 * an argument (they read the server's TIME only when no clock is configured), so every
 * assertion is exact and no test sleeps. Windows are long (a minute) because Redis still
 * expires keys in real time: a key must never expire while a test still relies on it.
 */
export interface RateLimitHarness {
  service: RateLimitService;
  store: RateLimitStore;
  events: EventBus;
  moduleRef: TestingModule;
  /** The module's clock; undefined on a harness left on the default clock (server TIME on Redis). */
  clock?: ManualClock;
  advance(ms: number): void;
  primary: 'redis' | 'memory';
}

export async function createRateLimitHarness(
  driver: DriverCase, extra: CoordinationModuleOptions = {}, { manualClock = true }: { manualClock?: boolean } = {},
): Promise<RateLimitHarness> {
  const clock = manualClock ? new ManualClock(1_700_000_000_000) : undefined;
  const moduleRef = await Test.createTestingModule({
    imports: [
      CoordinationModule.forRoot({
        ...driver.options(),
        prefix: uniquePrefix('rl'),
        health: { pingIntervalMs: 0 },
        ...(clock ? { clock } : {}),
        ...extra,
      }),
    ],
  }).compile();
  await moduleRef.init();
  return {
    moduleRef,
    service: moduleRef.get(RateLimitService),
    store: moduleRef.get<RateLimitStore>(RATE_LIMIT_STORE),
    events: moduleRef.get(EventBus),
    clock,
    advance: (ms) => {
      if (!clock) throw new Error('this harness runs on the default clock: time cannot be moved');
      clock.advance(ms);
    },
    primary: driver.name === 'memory' ? 'memory' : 'redis',
  };
}

const ALL: RateLimitAlgorithm[] = ['sliding-window', 'sliding-window-approx', 'fixed-window', 'token-bucket', 'gcra'];
let seq = 0;
const key = (label: string) => `${label}:${++seq}`;

export function describeRateLimitContract(driver: DriverCase): void {
  describe(`rate limits contract (${driver.name})`, () => {
    let h: RateLimitHarness;
    const W = 60_000;
    /** ms elapsed since the start of the aligned window (fixed-window, sliding-window-approx). */
    const offset = () => h.clock!.now() % W;

    beforeAll(async () => {
      h = await createRateLimitHarness(driver, { rateLimit: { violations: { alertThreshold: 3, alertWindowMs: 60_000 } } });
    });
    afterAll(async () => {
      await h.moduleRef.close();
    });

    describe.each(ALL)('%s', (algorithm) => {
      it('allows up to the limit, then denies with a retry time within the window', async () => {
        const k = key(algorithm);
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
        const expected: Record<RateLimitAlgorithm, number> = {
          'sliding-window': W, // the first admission leaves the window
          'sliding-window-approx': W - offset() + W / 3, // next window, once the 3 decayed to 2
          'fixed-window': W - offset(), // the window boundary
          'token-bucket': W / 3, // one token refilled
          gcra: W / 3, // one emission interval
        };
        expect(denied.retryAfterMs).toBe(expected[algorithm]);
      });

      it('allows again once the retry time has passed', async () => {
        const k = key(algorithm);
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
        const k = key(algorithm);
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
        const k = key(algorithm);
        const policy = { limit: 5, windowMs: 60_000, algorithm };
        expect((await h.service.consume(k, { ...policy, cost: 3 })).remaining).toBe(2);
        const denied = await h.service.consume(k, { ...policy, cost: 3 });
        expect(denied.allowed).toBe(false);
        expect(denied.remaining).toBe(2);
        const fits = await h.service.consume(k, { ...policy, cost: 2 });
        expect(fits).toMatchObject({ allowed: true, remaining: 0 });
      });

      it('peek does not consume; reset forgets the counter', async () => {
        const k = key(algorithm);
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
      const k = key('sw-boundary');
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
      const k = key('fw-boundary');
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
      const k = key('tb');
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

    it('multi-policy: a request denied by one policy consumes from none', async () => {
      const user = key('user');
      const checks = [
        { key: user, policy: { name: 'user', limit: 5, windowMs: 60_000 }, scope: 'user' },
        { key: 'company', policy: { name: `company${seq}`, limit: 1, windowMs: 60_000, algorithm: 'gcra' as const }, scope: 'tenant' },
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

    it('answers a key known to be blocked from the deny cache until its retry time', async () => {
      const k = key('deny');
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

    it('records violations per tenant, queryable by key, scope and time', async () => {
      const k = key('v');
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
      const k = key('alert');
      const alerts: RateLimitAlert[] = [];
      const violations: unknown[] = [];
      const a = h.events.on<RateLimitAlert>('ratelimit.alert', { tenant: 'alerts' });
      const v = h.events.on('ratelimit.violation', { tenant: 'alerts' });
      const subs = [a.subscribe((e) => alerts.push(e.payload)), v.subscribe((e) => violations.push(e.payload))];
      await Promise.all([a.ready(), v.ready()]);
      const policy = { limit: 1, windowMs: 60_000, tenant: 'alerts' };
      for (let i = 0; i < 6; i++) await h.service.consume(k, policy);
      await h.service.getViolations({ tenant: 'alerts' });
      await waitFor(() => alerts.length >= 1 && violations.length >= 5);
      subs.forEach((s) => s.unsubscribe());
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ tenant: 'alerts', key: k, violations: 3, threshold: 3 });
    });

    it('sliding-window: takes a large cost in one call, and caps the limit at 100000', async () => {
      const k = key('sw-large');
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
      const k = key('sw-peek');
      const policy = { limit: 3, windowMs: W, algorithm: 'sliding-window' as const };
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: true, remaining: 3, resetAfterMs: 0 });
      await h.service.consume(k, policy);
      h.advance(1_000);
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: true, remaining: 2, resetAfterMs: W - 1_000 });
    });

    it('answers from the deny cache only for the policy that denied (not a higher limit on the same counter)', async () => {
      const k = key('deny-policy');
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

    it('decides on the injected clock (the store reply carries its time, in us)', async () => {
      const policy = { limit: 1, windowMs: W };
      h.advance(123);
      const reply = await h.store.check([`${uniquePrefix('rlclock')}:{k}`], [normalizePolicy(policy)], 1, false);
      expect(reply[0]).toBe(h.clock!.now() * 1_000);
      // One admission at this instant: the quota is whole again one window from now (an empty log is reset already).
      const clocked = key('clock');
      await h.service.consume(clocked, policy);
      expect((await h.service.peek(clocked, policy)).resetAt.getTime()).toBe(h.clock!.now() + W);
    });
  });

  // Production default: no clock configured, so the Redis scripts read the server's TIME. No
  // time is moved here, and windows are a day long so that no boundary of an aligned window
  // (fixed-window, sliding-window-approx: multiples of the window since the epoch) can
  // plausibly fall inside a test; the assertions hold anywhere inside one window.
  describe(`rate limits on the default clock (${driver.name})`, () => {
    let h: RateLimitHarness;
    const DAY = 24 * 3_600_000;

    beforeAll(async () => {
      h = await createRateLimitHarness(driver, {}, { manualClock: false });
    });
    afterAll(async () => {
      await h.moduleRef.close();
    });

    it.each(ALL)('%s allows up to the limit, then denies until a retry time within the window', async (algorithm) => {
      const k = key(`${algorithm}-real`);
      const policy = { limit: 3, windowMs: DAY, algorithm };
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await h.service.consume(k, policy));
      expect(results.map((r) => [r.allowed, r.remaining, r.source])).toEqual([[true, 2, h.primary], [true, 1, h.primary], [true, 0, h.primary]]);
      const denied = await h.service.consume(k, policy);
      expect(denied).toMatchObject({ allowed: false, remaining: 0, source: h.primary });
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      expect(denied.retryAfterMs).toBeLessThanOrEqual(2 * DAY);
      expect(await h.service.consume(k, policy)).toMatchObject({ allowed: false, source: 'deny-cache' });
      expect(await h.service.peek(k, policy)).toMatchObject({ allowed: false, remaining: 0, source: h.primary });
      // the violation log (alert windows on the server clock too) recorded both denials
      expect((await h.service.getViolations({ key: k })).map((v) => v.source)).toEqual(['deny-cache', h.primary]);
    });

    if (driver.name !== 'memory') {
      it.each(ALL)('%s: every key of a counter expires, no sooner than its quota resets', async (algorithm) => {
        const core = h.moduleRef.get(CoordinationCore);
        const k = key(`${algorithm}-ttl`);
        const tenant = 'ttl';
        const started = performance.now();
        const result = await h.service.consume(k, { limit: 3, windowMs: DAY, algorithm, tenant });
        const pattern = core.keys.pattern(tenant, 'ratelimit', k);
        const keys = await scanKeys(core, pattern);
        expect(keys.length).toBeGreaterThan(0);
        for (const counterKey of keys) {
          const pttl = await core.connection!.client.pttl(counterKey);
          // PTTL is read a few ms after the decision: add that time back (rounded up) before comparing.
          const elapsed = Math.ceil(performance.now() - started);
          expect(pttl).toBeGreaterThan(0);
          expect(pttl + elapsed).toBeGreaterThanOrEqual(result.resetAfterMs);
          expect(pttl).toBeLessThanOrEqual(2 * DAY + 1_000);
        }
      });
    }

    it('decides on the server clock on Redis (the system clock on memory)', async () => {
      const core = h.moduleRef.get(CoordinationCore);
      const serverUs = async (): Promise<number> => {
        if (!core.connection) return Date.now() * 1_000;
        const [s, us] = await core.connection.client.time();
        return Number(s) * 1_000_000 + Number(us);
      };
      const policy = normalizePolicy({ limit: 1, windowMs: DAY });
      const before = await serverUs();
      const reply = await h.store.check([`${uniquePrefix('rlclock')}:{k}`], [policy], 1, false);
      const after = await serverUs();
      expect(reply[0]).toBeGreaterThanOrEqual(before);
      expect(reply[0]).toBeLessThanOrEqual(after);
    });
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
