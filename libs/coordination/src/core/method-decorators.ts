import 'reflect-metadata';
import { Inject, Optional, type Type } from '@nestjs/common';

/**
 * The property Nest injects a capability's service into, on instances of classes with methods
 * decorated by that capability (`@WithLock` → LockService, `@Cacheable` & co → CacheService).
 * The key is a symbol private to the slot, so it cannot collide with the class's own properties.
 *
 * The injection is declared Optional, so Nest's resolution never fails first: the capability's
 * explorer (see `findUninjectedInstances`) fails the boot with a message naming the fix instead,
 * and also covers useFactory / useValue instances, which Nest never injects into.
 *
 * @example
 * const LOCK_SERVICE = new ServiceSlot(LockService);
 * LOCK_SERVICE.has(instance); // whether Nest gave `instance` its LockService
 */
export class ServiceSlot<S extends object> {
  private readonly property: symbol;

  constructor(readonly service: Type<S>) {
    this.property = Symbol(`coordination:${service.name}`);
  }

  /** Declares the (optional) property injection on the class whose prototype is `prototype`. */
  declareOn(prototype: object): void {
    Inject(this.service)(prototype, this.property);
    Optional()(prototype, this.property);
  }

  /** The service Nest injected into `instance`, if any. */
  of(instance: unknown): S | undefined {
    return (instance as Record<symbol, S | undefined> | null | undefined)?.[this.property];
  }

  /** Whether Nest injected the service into `instance` (an own property it sets when it builds the instance). */
  has(instance: object): boolean {
    return this.of(instance) !== undefined;
  }
}

/** What `serviceMethodDecorator` needs to wrap one method. */
export interface ServiceMethodSpec<S extends object> {
  /** The decorator as users write it, for messages: `'@WithLock()'`. */
  readonly decorator: string;
  readonly slot: ServiceSlot<S>;
  /** Metadata written on the wrapper (read by the capability's explorer). */
  readonly metadataKey: string;
  readonly metadata: unknown;
  /** What to call instead of the decorator, for messages: `'LockService.withLock()'`. */
  readonly alternative: string;
  /** Runs one call: `call()` runs the original method on the instance with `args`. */
  run(service: S, call: () => unknown, args: unknown[]): unknown;
}

/**
 * A method decorator that wraps the method in `spec.run`, with the service Nest property-injected
 * into the instance. Every reflect-metadata entry of the original function (route, guard,
 * interceptor, custom metadata) is copied to the wrapper, as is its name, so the decorator can sit
 * above or below `@Get()`, `@SetMetadata()` & co in any order. The wrapper is async: a call on an
 * instance without the service (created with `new`) rejects with an Error naming the fix.
 *
 * Instance methods only: on a static method the decorator throws when the class is defined.
 *
 * @example
 * export const WithLock = (key: KeyTemplate, options: AcquireOptions = {}) => serviceMethodDecorator({
 *   decorator: '@WithLock()', slot: LOCK_SERVICE, metadataKey: WITH_LOCK_METADATA, metadata: { key, options },
 *   alternative: 'LockService.withLock()',
 *   run: (locks, call, args) => locks.withLock(resolveKeyTemplate(key, args), call, options),
 * });
 */
export function serviceMethodDecorator<S extends object>(spec: ServiceMethodSpec<S>): MethodDecorator {
  return (target, propertyKey, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (...args: unknown[]) => unknown;
    const owner = typeof target === 'function' ? target.name : (target as { constructor: { name: string } }).constructor.name;
    const where = `${owner}.${String(propertyKey)}`;
    if (typeof original !== 'function') throw new Error(`${spec.decorator} on ${where}: only methods can be decorated`);
    if (typeof target === 'function') {
      throw new Error(
        `${spec.decorator} on ${where}: static methods have no instance for Nest to inject ${spec.slot.service.name} into; use ${spec.alternative}`,
      );
    }
    const { slot } = spec;
    const wrapper = async function (this: unknown, ...args: unknown[]) {
      const service = slot.of(this);
      if (!service) throw new Error(missingService(spec, where));
      return spec.run(service, () => original.apply(this, args), args);
    };
    for (const metadataKey of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(metadataKey, Reflect.getOwnMetadata(metadataKey, original), wrapper);
    }
    Object.defineProperty(wrapper, 'name', { value: original.name });
    Reflect.defineMetadata(spec.metadataKey, spec.metadata, wrapper);
    descriptor.value = wrapper;
    slot.declareOn(target);
    return descriptor;
  };
}

function missingService(spec: ServiceMethodSpec<object>, where: string): string {
  const service = spec.slot.service.name;
  return (
    `${spec.decorator} on ${where}: this instance has no ${service}. Let Nest create it (a provider or controller of a module ` +
    `that can see CoordinationModule's exports; CoordinationModule is global unless isGlobal: false) instead of \`new\`, ` +
    `or call ${spec.alternative} yourself`
  );
}
