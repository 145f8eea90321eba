import { Inject, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { CoordinationCore } from './coordination-core.js';

/** Resolves CoordinationCore the way a provider of the module it is created in would. */
class CoreProbe {
  constructor(@Optional() @Inject(CoordinationCore) readonly core?: CoordinationCore) {}
}

/**
 * Which CoordinationModule instance a provider's decorated methods belong to, for the explorers
 * that wire them (`@OnCoordinationEvent`, `@StreamConsumer`): with several module instances in
 * one application, a provider belongs to the instance whose CoordinationCore its own module
 * resolves (what its constructor would get), so its methods are wired once. A provider whose
 * module sees no CoordinationCore belongs to the first instance that asks about it. Each kind
 * of explorer keeps one ModuleOwnership (module-level), shared by its instances.
 *
 * @example
 * const ownership = new ModuleOwnership();
 * if (await ownership.owns(wrapper, this.core)) subscribe(wrapper.instance);
 */
export class ModuleOwnership {
  /** Providers no module instance can claim, keyed by wrapper (one per application): the first core that asked. */
  private readonly unowned = new WeakMap<InstanceWrapper, CoordinationCore>();

  /**
   * Whether `wrapper`'s decorated methods belong to the module instance of `core`.
   * `onUnowned` runs when `core` takes a provider whose module sees no CoordinationCore.
   */
  async owns(wrapper: InstanceWrapper, core: CoordinationCore, onUnowned?: () => void): Promise<boolean> {
    const moduleRef = wrapper.host?.getProviderByKey(ModuleRef)?.instance as ModuleRef | undefined;
    const probe = await moduleRef?.create(CoreProbe).catch(() => undefined);
    if (probe?.core) return probe.core === core;
    if (!this.unowned.has(wrapper)) {
      this.unowned.set(wrapper, core);
      onUnowned?.();
    }
    return this.unowned.get(wrapper) === core;
  }
}

/**
 * The prototype whose methods an explorer scans: the instance's, else (request-scoped or
 * transient: no instance yet) the class's; undefined for an alias or a value without one.
 *
 * @example
 * const prototype = prototypeOf(wrapper);
 * for (const name of prototype ? scanner.getAllMethodNames(prototype) : []) inspect(prototype[name]);
 */
export function prototypeOf(wrapper: InstanceWrapper): Record<string, unknown> | undefined {
  if (wrapper.isAlias) return undefined;
  const instance = wrapper.instance as object | undefined;
  if (instance && typeof instance === 'object') return Object.getPrototypeOf(instance) as Record<string, unknown>;
  const metatype: unknown = wrapper.metatype;
  return typeof metatype === 'function' ? (metatype.prototype as Record<string, unknown>) : undefined;
}

/**
 * How log lines name a provider: its class name, else its token.
 *
 * @example
 * logger.warn(`@StreamConsumer on ${className(wrapper)}.${method} ignored`);
 */
export function className(wrapper: InstanceWrapper): string {
  const metatype = wrapper.metatype as { name?: string } | null | undefined;
  return metatype?.name ?? String(wrapper.name);
}

/**
 * Whether Nest builds `wrapper` once (a static singleton): request-scoped and transient
 * providers are built per request or consumer, so an explorer cannot wire their methods.
 *
 * @example
 * if (!isStaticSingleton(wrapper)) logger.warn(`${className(wrapper)} is not a singleton (request-scoped or transient)`);
 */
export function isStaticSingleton(wrapper: InstanceWrapper): boolean {
  return wrapper.isDependencyTreeStatic() && !wrapper.isTransient;
}
