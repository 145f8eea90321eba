import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { hasLockService, WITH_LOCK_METADATA } from './with-lock.decorator.js';

/**
 * Fails the boot when an instance with `@WithLock` methods did not get its LockService, instead
 * of letting it boot and throw on the first call. Nest injects it only into instances it builds
 * from a class, in a module that can see CoordinationModule's exports; a `useFactory` or
 * `useValue` provider, or a class in a module that cannot see a non-global CoordinationModule,
 * has none. The error names every such class with its fix.
 *
 * Only static singletons are checked: request-scoped and transient instances are built later,
 * per request or consumer, by the same DI (their static wrapper holds no real instance yet).
 * DiscoveryService lists the providers and controllers of this application only, so another
 * application in the same process is never looked at; instances created with `new` are not
 * Nest's to see and still fail on the call.
 *
 * @example
 * // Registered by CoordinationModule. This provider fails the boot:
 * { provide: ReportWorker, useFactory: () => new ReportWorker() }
 * // while the class provider gets its LockService:
 * providers: [ReportWorker]
 */
@Injectable()
export class WithLockExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    const problems = [
      ...this.discovery.getProviders().map((wrapper) => this.problem(wrapper, 'provider')),
      ...this.discovery.getControllers().map((wrapper) => this.problem(wrapper, 'controller')),
    ].filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) {
      throw new Error(`@WithLock() methods without a LockService (they would throw on every call):\n- ${problems.join('\n- ')}`);
    }
  }

  /** What is wrong with `wrapper`'s instance, if it has @WithLock methods but no LockService. */
  private problem(wrapper: InstanceWrapper, role: 'provider' | 'controller'): string | undefined {
    if (wrapper.isAlias || wrapper.isTransient || !wrapper.isDependencyTreeStatic()) return undefined;
    const instance: unknown = wrapper.instance;
    if (typeof instance !== 'object' || instance === null || hasLockService(instance)) return undefined;
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
    const methods = this.scanner.getAllMethodNames(prototype).filter((name) => Reflect.hasOwnMetadata(WITH_LOCK_METADATA, prototype![name] as object));
    if (methods.length === 0) return undefined;
    const className = (instance as { constructor?: { name?: string } }).constructor?.name || 'an object';
    const moduleName = wrapper.host?.metatype?.name ?? 'its module';
    const where = `${className} (${role} ${String(wrapper.name)} of module ${moduleName}): @WithLock() on ${methods.join(', ')}`;
    if (wrapper.isFactory) {
      return `${where}: created by a factory (useFactory), which Nest does not inject into; use a class provider (useClass) or call locks.withLock() directly`;
    }
    if (wrapper.isNotMetatype) {
      return `${where}: a value (useValue), which Nest does not inject into; use a class provider (useClass) or call locks.withLock() directly`;
    }
    return (
      `${where}: ${moduleName} cannot see LockService; import CoordinationModule in ${moduleName} ` +
      `(it is not global with isGlobal: false), or call locks.withLock() directly`
    );
  }
}
