import fc from 'fast-check';
import { EventBus, Lock, LockService, RateLimitService, type EventStream } from '@nest-coordination/core';
import type { BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { arrayArg, callbackArg, flagged, isCallbackFailure, policyArg, shortMs, signalArg, tenantOnly, ttlMs } from './fuzz-args.js';
import { fuzzSuite, type FuzzMethod } from './fuzz-runner.js';
import { anyValue, hostileNumber, hostilePayload, idArg, mostly, optionsArg, tenantOption, validTenant } from './fuzz-support.js';

/**
 * Property fuzzing of LockService (and the Lock handle), RateLimitService and EventBus: every
 * public method, hostile keys, tenants, options and payloads. See fuzz-runner.ts for the properties.
 */
const locks = (b: BootedModule) => b.get(LockService);
const limits = (b: BootedModule) => b.get(RateLimitService);
const events = (b: BootedModule) => b.get(EventBus);

const lockShape = {
  ttlMs, waitMs: shortMs, priority: fc.integer({ min: -5, max: 5 }), signal: signalArg,
  reentrant: fc.boolean(), autoRenew: fc.boolean(), maxHoldMs: ttlMs, tenant: tenantOption, owner: idArg,
};
const lockOptions = optionsArg(lockShape);
const permitOptions = optionsArg({ ...lockShape, permits: fc.integer({ min: 1, max: 5 }) });

/** Releases a lock a call returned (a lock whose TTL ran out meanwhile is gone already). */
async function releaseLock(value: unknown): Promise<void> {
  if (value instanceof Lock) await value.release().catch((error: unknown) => {
    if (value.isHeld()) throw error;
  });
}

const counterOptions = policyArg({ cost: fc.integer({ min: 0, max: 3 }), tenant: tenantOption, global: fc.boolean(), partition: idArg });
const check = optionsArg({ key: idArg, policy: policyArg(), scope: idArg, global: fc.boolean() }, ['key', 'policy']);
const manyOptions = optionsArg({ cost: fc.integer({ min: 0, max: 3 }), tenant: tenantOption, partition: idArg, sharedNamespace: fc.boolean() });
const rateLimitShared = (args: unknown[]) => (flagged(args, 'global') || flagged(args, 'sharedNamespace') ? ['rl', 'rlg', 'ratelimit-log'] : []);

/** A valid held lock's handle, for the methods of Lock itself. */
async function heldLock(b: BootedModule, tenant: string): Promise<Lock> {
  return locks(b).acquire(`handle-${Math.random().toString(36).slice(2)}`, { tenant, ttlMs: 10_000 });
}

const METHODS: FuzzMethod[] = [
  { example: ['ex-acquire', { tenant: 'acme', ttlMs: 5_000 }], name: 'locks.acquire', args: fc.tuple(idArg, lockOptions), call: (b, [k, o]) => locks(b).acquire(k as string, o as never), cleanup: releaseLock },
  { example: ['ex-try', { tenant: 'acme' }], name: 'locks.tryAcquire', args: fc.tuple(idArg, lockOptions), call: (b, [k, o]) => locks(b).tryAcquire(k as string, o as never), cleanup: releaseLock },
  {
    example: ['ex-with', () => 1, { tenant: 'acme' }], name: 'locks.withLock', args: fc.tuple(idArg, callbackArg, lockOptions),
    call: (b, [k, fn, o]) => locks(b).withLock(k as string, fn as () => unknown, o as never), passesThrough: isCallbackFailure,
  },
  { example: ['ex-permit', { tenant: 'acme', permits: 2 }], name: 'locks.acquirePermit', args: fc.tuple(idArg, permitOptions), call: (b, [k, o]) => locks(b).acquirePermit(k as string, o as never), cleanup: releaseLock },
  { example: ['ex-read', { tenant: 'acme' }], name: 'locks.acquireRead', args: fc.tuple(idArg, lockOptions), call: (b, [k, o]) => locks(b).acquireRead(k as string, o as never), cleanup: releaseLock },
  { example: ['ex-write', { tenant: 'acme' }], name: 'locks.acquireWrite', args: fc.tuple(idArg, lockOptions), call: (b, [k, o]) => locks(b).acquireWrite(k as string, o as never), cleanup: releaseLock },
  { example: ['ex', { tenant: 'acme' }], name: 'locks.isLocked', args: fc.tuple(idArg, tenantOnly), call: (b, [k, o]) => locks(b).isLocked(k as string, o as never) },
  { example: ['ex', { tenant: 'acme' }], name: 'locks.inspect', args: fc.tuple(idArg, tenantOnly), call: (b, [k, o]) => locks(b).inspect(k as string, o as never) },
  {
    example: ['ex', 1, { tenant: 'acme' }], name: 'locks.checkFence', args: fc.tuple(idArg, mostly(fc.integer({ min: 1, max: 2 ** 40 })), tenantOnly),
    call: (b, [k, token, o]) => locks(b).checkFence(k as string, token as number, o as never),
  },
  { example: ['owner-1'], name: 'locks.runAsOwner', args: fc.tuple(idArg), call: (b, [owner]) => locks(b).runAsOwner(owner as string, () => locks(b).held()) },
  {
    example: ['acme', 5_000], name: 'lock.extend', args: fc.tuple(validTenant, fc.oneof(hostileNumber, anyValue)), tenants: ([tenant]) => [tenant as string],
    call: async (b, [tenant, ms]) => {
      const lock = await heldLock(b, tenant as string);
      try {
        await lock.extend(ms as number);
      } finally {
        await releaseLock(lock);
      }
    },
  },
  {
    name: 'lock.release (twice)', args: fc.tuple(validTenant), runs: 10, tenants: ([tenant]) => [tenant as string],
    call: async (b, [tenant]) => {
      const lock = await heldLock(b, tenant as string);
      await lock.release();
      await lock.release();
      return lock.info();
    },
  },

  { example: ['ex', { tenant: 'acme', limit: 5, windowMs: 1_000 }], name: 'rateLimit.consume', args: fc.tuple(idArg, counterOptions), call: (b, [k, o]) => limits(b).consume(k as string, o as never), shared: rateLimitShared },
  { example: ['ex-enforce', { tenant: 'acme', limit: 5, windowMs: 1_000 }], name: 'rateLimit.enforce', args: fc.tuple(idArg, counterOptions), call: (b, [k, o]) => limits(b).enforce(k as string, o as never), shared: rateLimitShared },
  { example: ['ex', { tenant: 'acme', limit: 5, windowMs: 1_000 }], name: 'rateLimit.peek', args: fc.tuple(idArg, counterOptions), call: (b, [k, o]) => limits(b).peek(k as string, o as never), shared: rateLimitShared },
  { example: ['ex', { tenant: 'acme', limit: 5, windowMs: 1_000 }], name: 'rateLimit.reset', args: fc.tuple(idArg, counterOptions), call: (b, [k, o]) => limits(b).reset(k as string, o as never), shared: rateLimitShared },
  {
    example: [[{ key: 'ex', policy: { limit: 5, windowMs: 1_000 } }], { tenant: 'acme' }], name: 'rateLimit.consumeMany', args: fc.tuple(arrayArg(check, 2), manyOptions), runs: 80,
    call: (b, [c, o]) => limits(b).consumeMany(c as never, o as never), shared: rateLimitShared,
  },
  {
    example: [[{ key: 'ex-many', policy: { limit: 5, windowMs: 1_000 } }], { tenant: 'acme' }], name: 'rateLimit.enforceMany', args: fc.tuple(arrayArg(check, 2), manyOptions), runs: 80,
    call: (b, [c, o]) => limits(b).enforceMany(c as never, o as never), shared: rateLimitShared,
  },
  {
    example: [{ tenant: 'acme' }], name: 'rateLimit.getViolations',
    args: fc.tuple(optionsArg({ since: fc.oneof(fc.date(), fc.integer()), scope: idArg, key: idArg, limit: fc.integer({ min: 1, max: 100 }), tenant: tenantOption })),
    call: (b, [q]) => limits(b).getViolations(q as never),
  },

  { example: ['ex', { a: 1 }, { tenant: 'acme' }], name: 'events.publish', args: fc.tuple(idArg, hostilePayload, tenantOnly), call: (b, [c, p, o]) => events(b).publish(c as string, p, o as never) },
  { example: ['ex', { a: 1 }, { tenant: 'acme' }], name: 'events.emit', args: fc.tuple(idArg, hostilePayload, tenantOnly), call: (b, [c, p, o]) => events(b).emit(c as string, p, o as never) },
  {
    example: ['ex.*', { tenant: 'acme' }], name: 'events.on (subscribe, ready)', args: fc.tuple(fc.oneof(idArg, fc.constantFrom('*', 'crew.*', 'a*b*', '**')), tenantOnly), runs: 30,
    call: async (b, [pattern, o]) => {
      const stream: EventStream<unknown> = events(b).on(pattern as string, o as never);
      const subscription = stream.subscribe(() => undefined);
      try {
        await stream.ready();
      } finally {
        subscription.unsubscribe();
      }
    },
  },
];

describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('fuzz: locks, rate limits, events ($name)', (driver) => {
  fuzzSuite(driver, METHODS);
});
