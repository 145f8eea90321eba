import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Subscriber } from 'rxjs';
import { CoordinationCore } from '../core/coordination-core.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { assertChannelName, parseChannelPattern } from './channel-name.js';
import type { CoordinationEvent, EventOptions } from './event.types.js';
import { decodeEnvelope } from './event-envelope.js';
import { EventStream } from './event-stream.js';
import { EVENTS_PUBLISH } from './event.spans.js';
import { errorMessage } from './error-message.js';
import { freezePayload } from './freeze-payload.js';
import { EVENT_TRANSPORT, type EventTransport, type TransportListener } from './event-transport.interface.js';
import { EVENTS_CAPABILITY_SEGMENT as CAPABILITY, LibraryEventEmitter } from './library-event-emitter.js';

/**
 * Tenant-scoped publish/subscribe between every instance that shares the Redis (or, on the
 * memory driver, inside this module instance). Payloads go through the module serializer,
 * so Date, Map, Set, BigInt, Buffer... arrive as they were sent.
 *
 * Channel names are dot-separated segments of `[a-z0-9_-]` (`crew.started`); in `on()`,
 * `*` matches any run of characters, dots included (`crew.*` also matches `crew.run.done`).
 * A subscription only ever sees its own tenant's channels.
 *
 * Each received event is decoded once per module instance and the same object is handed to
 * every observer of its channel and of the patterns it matches (all the deliveries of one
 * message that arrive together; a very large message may be decoded once per subscription
 * when they arrive apart), so it is deeply frozen:
 * changing it throws a TypeError (copy it first, e.g. with `structuredClone`). The data of a
 * Date, RegExp, Buffer or typed array inside cannot be frozen: treat it as read-only too.
 *
 * @example
 * @Injectable()
 * export class CrewService {
 *   constructor(private readonly events: EventBus) {}
 *
 *   async start(crewId: string) {
 *     await this.events.publish('crew.started', { crewId, at: new Date() }); // tenant from context
 *   }
 *
 *   updates(tenant: string) {
 *     return this.events.on<{ crewId: string }>('crew.*', { tenant });
 *   }
 * }
 */
@Injectable()
export class EventBus implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Coordination:Events');
  private readonly observers = new Set<Subscriber<never>>();
  /**
   * The last message decoded (full channel, text) and what it decoded to (undefined when it
   * could not be). One PUBLISH reaches the subscriber connection as one message per matching
   * subscription of this instance, back to back (the channel's, then each pattern's), parsed
   * from one read and dispatched synchronously, and each goes to every observer of its
   * subscription: comparing with the last one decodes an event once for all of them, at the
   * cost of a string comparison. Cleared in a microtask once that dispatch is over, so a large
   * event (up to 64 MB) is not kept until the next message arrives.
   */
  private lastChannel = '';
  private lastText = '';
  private lastEvent: CoordinationEvent<unknown> | undefined;
  private readonly forget = (): void => this.clearDecoded();

  constructor(
    private readonly core: CoordinationCore,
    @Inject(EVENT_TRANSPORT) private readonly transport: EventTransport,
    private readonly library: LibraryEventEmitter,
  ) {}

  /**
   * Publishes `payload` on `channel` of the tenant (explicit, else from context). Resolves
   * once Redis accepted it; subscribers receive it asynchronously.
   *
   * @throws InvalidArgumentError (argument `channel`) for a malformed name or a wildcard
   * @throws TenantInvalidError / TenantRequiredError when the tenant is bad or missing
   * @throws SerializationError for a payload that cannot be encoded (functions, cycles)
   * @throws RedisUnavailableError / CircuitOpenError when Redis cannot be reached: nothing is sent
   *
   * @example
   * await bus.publish('crew.finished', { crewId: 'c1', tokens: 1234n }, { tenant: 'acme' });
   */
  publish<T>(channel: string, payload: T, options?: EventOptions): Promise<void> {
    try {
      assertChannelName(channel, 'channel');
      const tenant = this.core.tenants.resolve(options?.tenant, 'events.publish');
      const tracer = this.core.telemetry.tracer;
      // Without a span to make, skip the callback trace() would take: no closure, no extra promise.
      if (!tracer.enabled) return this.library.send(tenant, channel, payload);
      return tracer.trace(EVENTS_PUBLISH, tenant, channel, () => this.library.send(tenant, channel, payload));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Fire-and-forget `publish` for observability events (`lock.acquired`, ...). Never throws:
   * a failure is counted in `events_emit_failed_total` and logged (rate-limited), never
   * dropped silently.
   *
   * @example
   * this.events.emit('lock.acquired', { resource, waitedMs });
   */
  emit<T>(channel: string, payload: T, options?: EventOptions): void {
    this.publish(channel, payload, options).catch((error: unknown) => this.library.emitFailed(channel, error));
  }

  /**
   * Events of one channel, or of every channel matching a pattern (`*` wildcard), of one
   * tenant. Validation and tenant resolution happen here, synchronously, so a bad name
   * throws at the call site. The server subscription is made on first subscribe and
   * confirmed asynchronously: await `stream.ready()` after subscribing when you must not
   * miss an event published right after. Every observer of this instance receives the same
   * decoded, deeply frozen event (see the class comment). Observers run in the event's tenant
   * context, and are completed on application shutdown.
   *
   * @throws InvalidArgumentError (argument `channelOrPattern`), TenantInvalidError, TenantRequiredError
   *
   * @example
   * const stream = bus.on<CrewRun>('crew.*', { tenant: 'acme' });
   * stream.subscribe((event) => log(event.channel, event.payload));
   * await stream.ready();
   */
  on<T = unknown>(channelOrPattern: string, options?: EventOptions): EventStream<T> {
    const isPattern = parseChannelPattern(channelOrPattern, 'channelOrPattern');
    const tenant = this.core.tenants.resolve(options?.tenant, 'events.on');
    const namespace = this.core.keys.namespace(tenant, CAPABILITY);
    const name = isPattern
      ? this.core.keys.channelPattern(tenant, CAPABILITY, channelOrPattern)
      : this.core.keys.channel(tenant, CAPABILITY, channelOrPattern);

    const tenants = this.core.tenants;
    return new EventStream<T>((subscriber) => {
      const observer = subscriber as Subscriber<never>;
      this.observers.add(observer);
      subscriber.add(() => this.observers.delete(observer));
      // Handed from message() to deliver(), which is made once per subscription rather than per
      // event (tenants.run takes a function without arguments).
      let delivering: CoordinationEvent<T> | undefined;
      const deliver = (): void => {
        const event = delivering as CoordinationEvent<T>;
        delivering = undefined;
        subscriber.next(event);
      };
      const listener: TransportListener = {
        message: (fullChannel, text) => {
          // A pattern can only match inside its tenant's namespace; the check guards the slice in received().
          if (!fullChannel.startsWith(namespace)) return;
          const event = this.received(fullChannel, text, namespace.length, tenant) as CoordinationEvent<T> | undefined;
          if (!event) return;
          delivering = event;
          // Always set the context explicitly: the subscriber connection may have been opened
          // inside some request, and its callbacks would otherwise run as that request's tenant.
          // Where the context is that tenant already (or none, for the shared namespace), entering
          // it again would change nothing. Accepted trade-off: on Node 24 (AsyncContextFrame), run()
          // also undoes an observer's enterWith() on another AsyncLocalStorage, so without it such
          // a store carries over to the next listeners of the same message. Node 20 is unaffected
          // (there run() never undid it).
          const current = tenants.current();
          if (tenant === SHARED_TENANT) {
            if (current === undefined) deliver();
            else tenants.exit(deliver);
          } else if (current === tenant) deliver();
          else tenants.run(tenant, deliver);
        },
        failed: (error) => subscriber.error(error),
      };
      return this.transport.subscribe(isPattern ? 'pattern' : 'channel', name, listener);
    });
  }

  /** Completes every open stream (SSE responses end, decorated handlers detach) and unsubscribes. */
  async beforeApplicationShutdown(): Promise<void> {
    for (const observer of [...this.observers]) observer.complete();
    this.clearDecoded();
    await this.transport.drain();
  }

  /**
   * The event of a message `fullChannel` (inside the namespace of `tenant`) carried, decoded
   * once however many observers receive it. The full channel names the tenant (neither prefix
   * nor tenant contains ":"), so an event decoded for one observer is right for every other.
   */
  private received(fullChannel: string, text: string, namespaceLength: number, tenant: string): CoordinationEvent<unknown> | undefined {
    if (text === this.lastText && fullChannel === this.lastChannel) return this.lastEvent;
    const event = this.decode(fullChannel.slice(namespaceLength), text, tenant);
    // The other deliveries of this message are dispatched synchronously after this one.
    if (!this.lastText) queueMicrotask(this.forget);
    this.lastChannel = fullChannel;
    this.lastText = text;
    this.lastEvent = event;
    return event;
  }

  private clearDecoded(): void {
    this.lastText = this.lastChannel = '';
    this.lastEvent = undefined;
  }

  private decode(channel: string, text: string, tenant: string): CoordinationEvent<unknown> | undefined {
    try {
      const envelope = decodeEnvelope(this.core.serializer, text);
      return Object.freeze({ id: envelope.i, channel, tenant, payload: freezePayload(envelope.p), timestamp: envelope.t, source: envelope.s });
    } catch (error) {
      this.core.metrics.increment('events_decode_failed_total', { channel });
      this.logger.error(`Dropped an undecodable event on ${channel} (tenant ${tenant}): ${errorMessage(error)}`);
      return undefined;
    }
  }
}
