import { resolveKeyTemplate, checkKeyTemplate, type KeyTemplate } from '../core/key-template.js';
import { ServiceSlot, serviceMethodDecorator } from '../core/method-decorators.js';
import { LockService } from './lock.service.js';
import type { AcquireOptions } from './lock.types.js';

export const WITH_LOCK_METADATA = 'coordination:with-lock';
/** The property Nest injects the instance's LockService into (see WithLock). */
export const LOCK_SERVICE_SLOT = new ServiceSlot(LockService);

/** A key template (`'crew:{0}'`, `'order:{1.id}'`: argument index, then a property path) or a function of the arguments. */
export type LockKeySource = KeyTemplate;

export interface WithLockMetadata {
  key: LockKeySource;
  options: AcquireOptions;
}

/**
 * Resolves the lock key of one call; the key is validated by LockService like any other.
 *
 * @example
 * resolveLockKey('crew:{0}:{1.id}', ['c1', { id: 7 }]); // 'crew:c1:7'
 */
export function resolveLockKey(source: LockKeySource, args: unknown[]): string {
  return resolveKeyTemplate(source, args, 'key');
}

/**
 * Runs the method holding a distributed lock (`LockService.withLock`), released when the
 * returned promise settles. The method becomes async. Every reflect-metadata entry of the
 * original function (route, guard, interceptor, ... metadata) is copied to the wrapper, so the
 * decorator can sit above or below `@Get()` & co.
 *
 * The decorator also declares an (optional) property injection of LockService on the class, so
 * Nest's DI gives every instance it creates the LockService of the module that created it
 * (singletons, request-scoped and transient providers, controllers alike; two apps in one
 * process stay apart). The reference is an own, symbol-keyed property of the instance. Nest
 * injects only into instances it builds from a class in a module that can see LockService: a
 * `useFactory` or `useValue` provider, or a class whose module cannot see a non-global
 * CoordinationModule, fails the boot naming the class and the fix (WithLockExplorer). An
 * instance created with `new` has none either, and the call fails, naming the fix. Inside the
 * method, `LockService.current()` is the lock. A LockTimeoutError maps to HTTP 409 through
 * CoordinationExceptionFilter.
 *
 * Instance methods only: on a static method the decorator throws when the class is defined
 * (there is no instance to inject into; call `LockService.withLock()` there).
 *
 * At graceful shutdown the lock's `signal` aborts with a LockShutdownError (503 through the
 * filter, if rethrown) and the lock is released once the method returns; a method still running
 * after `locks.shutdownGraceMs` keeps the lock until its TTL runs out (see LockService.withLock).
 *
 * @example
 * @Post(':crewId/runs')
 * @WithLock('crew:{0}', { waitMs: 0, ttlMs: 60_000 })
 * startRun(@Param('crewId') crewId: string) { ... }
 *
 * @example
 * @WithLock((order: Order) => `order:${order.id}`, { waitMs: 5_000 })
 * async fulfil(order: Order) { ... }
 */
export function WithLock(key: LockKeySource, options: AcquireOptions = {}): MethodDecorator {
  checkKeyTemplate(key, 'key');
  return serviceMethodDecorator({
    decorator: '@WithLock()',
    slot: LOCK_SERVICE_SLOT,
    metadataKey: WITH_LOCK_METADATA,
    metadata: { key, options } satisfies WithLockMetadata,
    alternative: 'LockService.withLock()',
    run: (locks, call, args) => locks.withLock(resolveLockKey(key, args), call, options),
  });
}
