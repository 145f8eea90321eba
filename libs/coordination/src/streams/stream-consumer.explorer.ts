import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { CoordinationCore } from '../core/coordination-core.js';
import { className, isStaticSingleton, ModuleOwnership, prototypeOf } from '../core/module-ownership.js';
import { streamConsumerMetadata, type StreamConsumerMetadata } from './stream-consumer.decorator.js';
import { StreamService } from './stream.service.js';
import type { StreamHandler } from './stream.types.js';
import { streamName } from './stream-validation.js';

/** Which module instance's explorer starts a provider's consumers (one per application). */
const ownership = new ModuleOwnership();

/**
 * Finds `@StreamConsumer` methods on the providers and controllers of this module instance at
 * bootstrap and starts their consumers through StreamService; bootstrap completes once every
 * one runs (while Redis is unreachable they start paused and resume with it). StreamService
 * stops them at shutdown. Request-scoped and transient providers are skipped with a warning: an
 * entry has no request to build them for.
 *
 * With several CoordinationModule instances in one application, a method belongs to the
 * instance whose CoordinationCore its own module resolves, so it consumes once (see ModuleOwnership).
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
      const prototype = prototypeOf(wrapper);
      if (!prototype) continue;
      const methods = this.scanner.getAllMethodNames(prototype).filter((name) => streamConsumerMetadata(prototype[name]).length > 0);
      if (methods.length === 0 || !(await ownership.owns(wrapper, this.core))) continue;
      const owner = className(wrapper);
      if (!isStaticSingleton(wrapper)) {
        this.logger.warn(`@StreamConsumer on ${owner} (${methods.join(', ')}) ignored: ${owner} is not a singleton (request-scoped or transient)`);
        continue;
      }
      const instance = wrapper.instance as Record<string, unknown>;
      for (const method of methods) {
        const handler = (instance[method] as StreamHandler).bind(instance);
        for (const metadata of streamConsumerMetadata(prototype[method])) starts.push(this.start(`${owner}.${method}`, handler, metadata));
      }
    }
    await Promise.all(starts);
  }

  private async start(name: string, handler: StreamHandler, { stream, options }: StreamConsumerMetadata): Promise<void> {
    const subscription = await this.streams.consume(stream, options.group, handler, options);
    this.logger.log(`${name} consumes ${JSON.stringify(streamName(stream))} (tenant ${subscription.tenant}) as ${subscription.consumer} of group ${options.group}`);
  }
}
