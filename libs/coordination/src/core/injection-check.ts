import type { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { ServiceSlot } from './method-decorators.js';

/** Which decorated methods `assertServicesInjected` looks for, and what the message suggests instead. */
export interface InjectionCheck {
  readonly slot: ServiceSlot<object>;
  /** Decorator name by metadata key: `{ [WITH_LOCK_METADATA]: '@WithLock()' }`. */
  readonly decorators: Readonly<Record<string, string>>;
  /** What to call instead of the decorators, for messages: `'locks.withLock()'`. */
  readonly alternative: string;
}

/**
 * Fails the boot when an instance with methods decorated by `check.decorators` did not get its
 * service (see ServiceSlot), instead of letting it boot and throw on the first call. Nest
 * injects it only into instances it builds from a class, in a module that can see
 * CoordinationModule's exports; a `useFactory` or `useValue` provider, or a class in a module
 * that cannot see a non-global CoordinationModule, has none. The error names every such class
 * with its fix.
 *
 * Only static singletons are checked: request-scoped and transient instances are built later,
 * per request or consumer, by the same DI (their static wrapper holds no real instance yet).
 * DiscoveryService lists the providers and controllers of this application only, so another
 * application in the same process is never looked at; instances created with `new` are not
 * Nest's to see and still fail on the call.
 *
 * @example
 * onModuleInit(): void {
 *   assertServicesInjected(this.discovery, this.scanner, { slot: LOCK_SERVICE, decorators: { [WITH_LOCK_METADATA]: '@WithLock()' }, alternative: 'locks.withLock()' });
 * }
 */
export function assertServicesInjected(discovery: DiscoveryService, scanner: MetadataScanner, check: InjectionCheck): void {
  const problems = [
    ...discovery.getProviders().map((wrapper) => problem(scanner, check, wrapper, 'provider')),
    ...discovery.getControllers().map((wrapper) => problem(scanner, check, wrapper, 'controller')),
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    const decorators = [...new Set(Object.values(check.decorators))].join(' / ');
    throw new Error(`${decorators} methods without a ${check.slot.service.name} (they would throw on every call):\n- ${problems.join('\n- ')}`);
  }
}

/** What is wrong with `wrapper`'s instance, if it has decorated methods but no service. */
function problem(scanner: MetadataScanner, check: InjectionCheck, wrapper: InstanceWrapper, role: 'provider' | 'controller'): string | undefined {
  if (wrapper.isAlias || wrapper.isTransient || !wrapper.isDependencyTreeStatic()) return undefined;
  const instance: unknown = wrapper.instance;
  if (typeof instance !== 'object' || instance === null || check.slot.has(instance)) return undefined;
  const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
  const methods = scanner.getAllMethodNames(prototype);
  const found = Object.entries(check.decorators)
    .map(([key, decorator]) => [decorator, methods.filter((name) => Reflect.hasOwnMetadata(key, prototype![name] as object))] as const)
    .filter(([, names]) => names.length > 0)
    .map(([decorator, names]) => `${decorator} on ${names.join(', ')}`);
  if (found.length === 0) return undefined;
  const className = (instance as { constructor?: { name?: string } }).constructor?.name || 'an object';
  const moduleName = wrapper.host?.metatype?.name ?? 'its module';
  const where = `${className} (${role} ${String(wrapper.name)} of module ${moduleName}): ${found.join('; ')}`;
  const direct = `call ${check.alternative} directly`;
  if (wrapper.isFactory) return `${where}: created by a factory (useFactory), which Nest does not inject into; use a class provider (useClass) or ${direct}`;
  if (wrapper.isNotMetatype) return `${where}: a value (useValue), which Nest does not inject into; use a class provider (useClass) or ${direct}`;
  return (
    `${where}: ${moduleName} cannot see ${check.slot.service.name}; import CoordinationModule in ${moduleName} ` +
    `(it is not global with isGlobal: false), or ${direct}`
  );
}
