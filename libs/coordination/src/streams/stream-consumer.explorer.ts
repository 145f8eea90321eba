import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { streamConsumerMetadata, type StreamConsumerMetadata } from './stream-consumer.decorator.js';
import { StreamService } from './stream.service.js';
import type { StreamHandler } from './stream.types.js';
import { streamName } from './stream-validation.js';

/** Resolves CoordinationCore the way a provider of the module it is created in would. */
class CoreOfModule {
  constructor(@Optional() @Inject(CoordinationCore) readonly core?: CoordinationCore) {}
}

/** Consumers no module instance can claim (their module sees no CoordinationCore): the first explorer of the application takes them. */
const unclaimed = new WeakMap<InstanceWrapper, CoordinationCore>();

/**
 * Finds `@StreamConsumer` methods on the providers and controllers of this module instance at
 * bootstrap and starts their consumers through StreamService; bootstrap completes once every
 * one runs (while Redis is unreachable they start paused and resume with it). StreamService
 * stops them at shutdown. Request-scoped and transient providers are skipped with a warning: an
 * entry has no request to build them for.
 *
 * With several CoordinationModule instances in one application, a method belongs to the
 * instance whose CoordinationCore its own module resolves, so it consumes once.
 *
 * @example
 * // Registered by CoordinationModule; nothing to do beyond decorating methods:
 * @StreamConsumer(CREW_EVENTS, { group: 'run-history' })
 * record(entry: StreamEntry<CrewStreamEvent>) {}
 */
@Injectable()
export class StreamConsumerExplorer implements OnApplicationBootstrap {
  private readonly logger = new Logger('Coordination:Streams');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly streams: StreamService,
    private readonly core: CoordinationCore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const starts: Array<Promise<void>> = [];
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance = wrapper.isAlias ? undefined : (wrapper.instance as Record<string, unknown> | undefined);
      const prototype = consumerPrototype(wrapper, instance);
      if (!prototype) continue;
      const methods = this.scanner.getAllMethodNames(prototype).filter((name) => streamConsumerMetadata(prototype[name]).length > 0);
      if (methods.length === 0 || !(await this.claims(wrapper))) continue;
      const owner = (wrapper.metatype as { name?: string } | null)?.name ?? String(wrapper.name);
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
        this.logger.warn(`@StreamConsumer on ${owner} (${methods.join(', ')}) ignored: ${owner} is not a singleton (request-scoped or transient)`);
        continue;
      }
      for (const method of methods) {
        const handler = (instance![method] as StreamHandler).bind(instance);
        for (const metadata of streamConsumerMetadata(prototype[method])) starts.push(this.start(`${owner}.${method}`, handler, metadata));
      }
    }
    await Promise.all(starts);
  }

  private async start(name: string, handler: StreamHandler, { stream, options }: StreamConsumerMetadata): Promise<void> {
    const subscription = await this.streams.consume(stream, options.group, handler, options);
    this.logger.log(`${name} consumes ${JSON.stringify(streamName(stream))} (tenant ${subscription.tenant}) as ${subscription.consumer} of group ${options.group}`);
  }

  /** Whether `wrapper`'s consumers belong to this module instance (see the class comment). */
  private async claims(wrapper: InstanceWrapper): Promise<boolean> {
    const moduleRef = wrapper.host?.getProviderByKey(ModuleRef)?.instance as ModuleRef | undefined;
    const seen = await moduleRef?.create(CoreOfModule).catch(() => undefined);
    if (seen?.core) return seen.core === this.core;
    if (!unclaimed.has(wrapper)) unclaimed.set(wrapper, this.core);
    return unclaimed.get(wrapper) === this.core;
  }
}

/** The prototype whose methods to scan: the instance's, else (request-scoped: no instance yet) the class's. */
function consumerPrototype(wrapper: InstanceWrapper, instance: object | undefined): Record<string, unknown> | undefined {
  if (wrapper.isAlias) return undefined;
  if (instance && typeof instance === 'object') return Object.getPrototypeOf(instance) as Record<string, unknown>;
  const metatype: unknown = wrapper.metatype;
  return typeof metatype === 'function' ? (metatype.prototype as Record<string, unknown>) : undefined;
}
