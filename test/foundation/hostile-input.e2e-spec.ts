import {
  EventBus, LockService, RateLimitService, SerializationError, TenantInvalidError, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** Input a caller without types (plain JS, a decoded JSON body) can pass where a tenant id belongs. */
const circular: Record<string, unknown> = {};
circular.self = circular;
const BAD_TENANTS: Array<[string, unknown, string]> = [
  ['a BigInt', 10n, 'a bigint'],
  ['a cyclic object', circular, 'an object'],
  ['a number', 42, 'a number'],
  ['null', null, 'null'],
];

const policy = { name: 'p', limit: 5, windowMs: 60_000 };

/** Every public method that takes a tenant, called with `tenant`. */
function tenantTakingCalls(booted: BootedModule, tenant: unknown): Array<[string, () => unknown]> {
  const locks = booted.get(LockService);
  const limits = booted.get(RateLimitService);
  const events = booted.get(EventBus);
  const t = { tenant: tenant as string };
  return [
    ['locks.acquire', () => locks.acquire('r', t)],
    ['locks.tryAcquire', () => locks.tryAcquire('r', t)],
    ['locks.withLock', () => locks.withLock('r', () => 1, t)],
    ['locks.acquirePermit', () => locks.acquirePermit('r', { ...t, permits: 2 })],
    ['locks.acquireRead', () => locks.acquireRead('r', t)],
    ['locks.acquireWrite', () => locks.acquireWrite('r', t)],
    ['locks.isLocked', () => locks.isLocked('r', t)],
    ['locks.checkFence', () => locks.checkFence('r', 1, t)],
    ['rateLimit.consume', () => limits.consume('k', { ...policy, ...t })],
    ['rateLimit.enforce', () => limits.enforce('k', { ...policy, ...t })],
    ['rateLimit.consumeMany', () => limits.consumeMany([{ key: 'k', policy }], t)],
    ['rateLimit.peek', () => limits.peek('k', { ...policy, ...t })],
    ['rateLimit.reset', () => limits.reset('k', { ...policy, ...t })],
    ['rateLimit.getViolations', () => limits.getViolations(t)],
    ['events.publish', () => events.publish('crew.run', {}, t)],
    ['events.on', () => events.on('crew.*', t)],
    ['tenants.run', () => booted.core.tenants.run(tenant as string, () => 1)],
  ];
}

/** The error a call throws or rejects with. */
async function errorOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each(DRIVERS)('hostile input ($name)', (driver) => {
  let booted: BootedModule;
  beforeAll(async () => {
    const options: CoordinationModuleOptions = { ...driver.options(), tenancy: { required: false }, health: { pingIntervalMs: 0 } };
    booted = await bootModule(options);
  });
  afterAll(() => booted?.close());

  it.each(BAD_TENANTS)('every tenant-taking method rejects %s as a tenant with TenantInvalidError naming its type', async (_, tenant, kind) => {
    for (const [name, call] of tenantTakingCalls(booted, tenant)) {
      const error = await errorOf(call);
      expect({ name, error: (error as Error)?.constructor?.name }).toEqual({ name, error: TenantInvalidError.name });
      expect((error as Error).message).toContain(`got ${kind}`);
    }
  });

  it('every tenant-taking method echoes at most 64 characters of an 8 KB tenant', async () => {
    for (const [name, call] of tenantTakingCalls(booted, 'x'.repeat(8_192))) {
      const error = await errorOf(call);
      expect({ name, error: (error as Error)?.constructor?.name }).toEqual({ name, error: TenantInvalidError.name });
      expect((error as Error).message).toContain('(8192 characters)');
      expect((error as Error).message.length).toBeLessThan(300);
    }
  });

  it('publishing a payload nested deeper than the serializer allows rejects with SerializationError, and sends nothing', async () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40_000; i++) deep = { next: deep };
    const bus = booted.get(EventBus);
    const stream = bus.on('deep.*', { tenant: 'acme' });
    const received: unknown[] = [];
    const subscription = stream.subscribe((event) => received.push(event.payload));
    try {
      await stream.ready();
      await expect(bus.publish('deep.one', deep, { tenant: 'acme' })).rejects.toThrow(SerializationError);
      // Events of one channel arrive in order: once the next one is here, the deep one never will.
      await bus.publish('deep.one', 'after', { tenant: 'acme' });
      await until(() => received.length > 0, { timeoutMs: 5_000, message: () => 'the event published after the deep one' });
      expect(received).toEqual(['after']);
    } finally {
      subscription.unsubscribe();
    }
  });
});
