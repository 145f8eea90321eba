import 'reflect-metadata';
import { Inject, Optional } from '@nestjs/common';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { LockService } from './lock.service.js';
import type { AcquireOptions } from './lock.types.js';

export const WITH_LOCK_METADATA = 'coordination:with-lock';
/**
 * The property Nest injects the instance's LockService into (see WithLock). A symbol private to
 * this module: it cannot collide with the class's own properties.
 */
const LOCK_SERVICE = Symbol('coordination:with-lock:service');

/** A key template (`'crew:{0}'`, `'order:{1.id}'`: argument index, then a property path) or a function of the arguments. */
export type LockKeySource = string | ((...args: any[]) => string);

export interface WithLockMetadata {
  key: LockKeySource;
  options: AcquireOptions;
}

/** Resolves the lock key of one call; the key is validated by LockService like any other. */
export function resolveLockKey(source: LockKeySource, args: unknown[]): string {
  if (typeof source === 'function') return source(...args);
  return source.replace(/\{(\d+)((?:\.[A-Za-z_$][\w$]*)*)\}/g, (_match, index: string, path: string) => {
    let value: unknown = args[Number(index)];
    for (const part of path.split('.').filter(Boolean)) value = (value as Record<string, unknown> | null | undefined)?.[part];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') {
      throw new InvalidArgumentError('key', `placeholder {${index}${path}} of "${source}" resolved to ${value === null ? 'null' : typeof value}`);
    }
    return String(value);
  });
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
  if (typeof key !== 'string' && typeof key !== 'function') throw new InvalidArgumentError('key', 'must be a template string or a function');
  return (target, propertyKey, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (...args: unknown[]) => unknown;
    const where = typeof target === 'function'
      ? `${target.name}.${String(propertyKey)}`
      : `${(target as { constructor: { name: string } }).constructor.name}.${String(propertyKey)}`;
    if (typeof original !== 'function') throw new Error(`@WithLock() on ${where}: only methods can be decorated`);
    if (typeof target === 'function') throw new Error(`@WithLock() on ${where}: static methods have no instance for Nest to inject LockService into; use LockService.withLock()`);
    const wrapper = async function (this: Record<symbol, LockService | undefined>, ...args: unknown[]) {
      const service = this?.[LOCK_SERVICE];
      if (!service) throw new Error(missingService(where));
      return service.withLock(resolveLockKey(key, args), () => original.apply(this, args), options);
    };
    for (const metadataKey of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(metadataKey, Reflect.getOwnMetadata(metadataKey, original), wrapper);
    }
    Object.defineProperty(wrapper, 'name', { value: original.name });
    Reflect.defineMetadata(WITH_LOCK_METADATA, { key, options } satisfies WithLockMetadata, wrapper);
    descriptor.value = wrapper;
    // Optional, so Nest's resolution never fails first: WithLockExplorer fails the boot with a message
    // naming the fix instead, and covers useFactory / useValue instances, which Nest never injects into.
    Inject(LockService)(target, LOCK_SERVICE);
    Optional()(target, LOCK_SERVICE);
    return descriptor;
  };
}

/**
 * Whether Nest gave `instance` its LockService (WithLockExplorer checks this at boot). The
 * reference is an own property under a symbol private to this module, set by Nest's property
 * injection when it builds the instance from its class.
 */
export function hasLockService(instance: object): boolean {
  return (instance as Record<symbol, LockService | undefined>)[LOCK_SERVICE] !== undefined;
}

function missingService(where: string): string {
  return (
    `@WithLock() on ${where}: this instance has no LockService. Let Nest create it (a provider or controller of a module ` +
    `that can see CoordinationModule's exports; CoordinationModule is global unless isGlobal: false) instead of \`new\`, ` +
    `or call LockService.withLock() yourself`
  );
}

