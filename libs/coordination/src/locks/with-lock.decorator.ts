import 'reflect-metadata';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import type { LockService } from './lock.service.js';
import type { AcquireOptions } from './lock.types.js';

export const WITH_LOCK_METADATA = 'coordination:with-lock';
/** Where LockExplorer puts the LockService of the instance's own module (see WithLock). */
export const LOCK_SERVICE_REF = Symbol.for('coordination:lock-service');

/** A key template (`'crew:{0}'`, `'order:{1.id}'`: argument index, then a property path) or a function of the arguments. */
export type LockKeySource = string | ((...args: any[]) => string);

export interface WithLockMetadata {
  key: LockKeySource;
  options: AcquireOptions;
}

const defaultServices: LockService[] = [];

/** Called by LockExplorer: the fallback for instances it did not see (request-scoped, created by hand). */
export function registerLockService(service: LockService): () => void {
  defaultServices.push(service);
  return () => {
    const index = defaultServices.lastIndexOf(service);
    if (index >= 0) defaultServices.splice(index, 1);
  };
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
 * The LockService is the one of the module that created the instance: LockExplorer attaches it to
 * every singleton provider and controller with a @WithLock method at bootstrap. Instances it
 * does not see (request-scoped, `new`-ed by hand) use the most recently started module's.
 * A LockTimeoutError maps to HTTP 409 through CoordinationExceptionFilter.
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
    const where = `${(target as { constructor: { name: string } }).constructor.name}.${String(propertyKey)}`;
    if (typeof original !== 'function') throw new Error(`@WithLock() on ${where}: only methods can be decorated`);
    const wrapper = async function (this: Record<symbol, LockService | undefined>, ...args: unknown[]) {
      const service = this?.[LOCK_SERVICE_REF] ?? defaultServices[defaultServices.length - 1];
      if (!service) throw new Error(`@WithLock() on ${where}: no LockService; import CoordinationModule and call it on a Nest-managed instance`);
      return service.withLock(resolveLockKey(key, args), () => original.apply(this, args), options);
    };
    for (const metadataKey of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(metadataKey, Reflect.getOwnMetadata(metadataKey, original), wrapper);
    }
    Object.defineProperty(wrapper, 'name', { value: original.name });
    Reflect.defineMetadata(WITH_LOCK_METADATA, { key, options } satisfies WithLockMetadata, wrapper);
    descriptor.value = wrapper;
    return descriptor;
  };
}

/** True when some method of `prototype` (or its parents) is decorated with @WithLock. */
export function hasWithLockMethods(prototype: object | null): boolean {
  for (let proto = prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value;
      if (typeof value === 'function' && Reflect.hasOwnMetadata(WITH_LOCK_METADATA, value)) return true;
    }
  }
  return false;
}
