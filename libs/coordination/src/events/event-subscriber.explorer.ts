import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { retry, timer, type Subscription } from 'rxjs';
import { backoffDelay } from '../connection/backoff.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { className, isStaticSingleton, ModuleOwnership, prototypeOf } from '../core/module-ownership.js';
import { EventBus } from './event-bus.js';
import type { CoordinationEvent } from './event.types.js';
import { errorMessage } from './error-message.js';
import { eventHandlerMetadata, type EventHandlerMetadata } from './on-coordination-event.decorator.js';

type Handler = (event: CoordinationEvent) => unknown;

/** Which module instance's explorer subscribes a provider's handlers (one per application). */
const ownership = new ModuleOwnership();

/**
 * Finds `@OnCoordinationEvent` methods on the providers and controllers of this module
 * instance at bootstrap and subscribes them; boot completes once their server subscriptions are confirmed (or failed,
 * then they are retried with backoff in the background). Handler errors are logged, never
 * end the subscription. Request-scoped and transient providers are skipped with a warning:
 * an event has no request to build them for.
 *
 * With several CoordinationModule instances in one application, a handler belongs to the
 * instance whose CoordinationCore its own module resolves (what its constructor would get),
 * so it is subscribed once, on that instance's bus.
 *
 * @example
 * // Registered by CoordinationModule; nothing to do beyond decorating methods:
 * @OnCoordinationEvent('crew.started')
 * onStarted(event: CoordinationEvent<CrewRun>) {}
 */
@Injectable()
export class EventSubscriberExplorer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Coordination:Events');
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly bus: EventBus,
    private readonly core: CoordinationCore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const confirmations: Array<Promise<void>> = [];
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const prototype = prototypeOf(wrapper);
      if (!prototype) continue;
      let owned: boolean | undefined;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const handlers = eventHandlerMetadata(prototype[method]);
        if (handlers.length === 0) continue;
        owned ??= await ownership.owns(wrapper, this.core, () => {
          this.logger.log(`${className(wrapper)} sees no CoordinationCore; its @OnCoordinationEvent handlers use module instance ${this.core.instanceId}`);
        });
        if (!owned) break;
        const name = `${className(wrapper)}.${method}`;
        if (!isStaticSingleton(wrapper)) {
          this.logger.warn(`@OnCoordinationEvent on ${name} ignored: ${className(wrapper)} is not a singleton (request-scoped or transient)`);
          continue;
        }
        for (const metadata of handlers) confirmations.push(this.subscribe(wrapper.instance as object, method, name, metadata));
      }
    }
    await Promise.all(confirmations);
  }

  beforeApplicationShutdown(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
  }

  private subscribe(instance: object, method: string, name: string, metadata: EventHandlerMetadata): Promise<void> {
    const handler = (instance as Record<string, Handler>)[method].bind(instance);
    const stream = this.bus.on(metadata.channelOrPattern, { tenant: metadata.tenant });
    const { baseDelayMs, maxDelayMs } = this.core.options.reconnect;
    const subscription = stream
      .pipe(
        retry({
          resetOnSuccess: true,
          delay: (error: unknown, attempt: number) => {
            this.logger.warn(`${name}: subscribing to ${metadata.channelOrPattern} failed (${errorMessage(error)}); retrying`);
            return timer(backoffDelay(attempt, baseDelayMs, maxDelayMs));
          },
        }),
      )
      .subscribe((event) => this.invoke(handler, name, event));
    this.subscriptions.push(subscription);
    return stream.ready().catch((error: unknown) => {
      this.logger.warn(`${name} is not subscribed to ${metadata.channelOrPattern} yet: ${errorMessage(error)}`);
    });
  }

  private invoke(handler: Handler, name: string, event: CoordinationEvent): void {
    try {
      const result = handler(event);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.failed(name, event, error));
    } catch (error) {
      this.failed(name, event, error);
    }
  }

  private failed(name: string, event: CoordinationEvent, error: unknown): void {
    this.core.metrics.increment('events_handler_failed_total', { handler: name });
    const stack = error instanceof Error ? error.stack : undefined;
    this.logger.error(`${name} failed on ${event.channel} (event ${event.id}, tenant ${event.tenant}): ${errorMessage(error)}`, stack);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
