import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Subscriber } from 'rxjs';
import { CoordinationCore } from '../core/coordination-core.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { assertChannelName, parseChannelPattern } from './channel-name.js';
import type { CoordinationEvent, EventOptions } from './event.types.js';
import { createEnvelope, decodeEnvelope, encodeEnvelope } from './event-envelope.js';
import { EventStream } from './event-stream.js';
import { errorMessage } from './error-message.js';
import { EVENT_TRANSPORT, type EventTransport, type TransportListener } from './event-transport.interface.js';

/** Capability segment of event channels: `<prefix>:<tenant>:events:<channel>`. */
const CAPABILITY = 'events';
/** emit() failures are logged at most this often (each is counted), so an outage does not flood the log. */
const EMIT_WARN_INTERVAL_MS = 10_000;

/**
 * Tenant-scoped publish/subscribe between every instance that shares the Redis (or, on the
 * memory driver, inside this module instance). Payloads go through the module serializer,
 * so Date, Map, Set, BigInt, Buffer... arrive as they were sent.
 *
 * Channel names are dot-separated segments of `[a-z0-9_-]` (`crew.started`); in `on()`,
 * `*` matches any run of characters, dots included (`crew.*` also matches `crew.run.done`).
 * A subscription only ever sees its own tenant's channels.
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
  private lastEmitWarningAt = -Infinity;
  private suppressedEmitWarnings = 0;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(EVENT_TRANSPORT) private readonly transport: EventTransport,
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
  async publish<T>(channel: string, payload: T, options?: EventOptions): Promise<void> {
    assertChannelName(channel, 'channel');
    const tenant = this.core.tenants.resolve(options?.tenant, 'events.publish');
    const target = this.core.keys.channel(tenant, CAPABILITY, channel);
    const message = encodeEnvelope(this.core.serializer, createEnvelope(payload, this.core.clock.now(), this.core.instanceId));
    try {
      await this.transport.publish(target, message);
    } catch (error) {
      this.core.metrics.increment('events_publish_failed_total', { channel });
      throw error;
    }
    this.core.metrics.increment('events_published_total', { channel });
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
    this.publish(channel, payload, options).catch((error: unknown) => this.emitFailed(channel, error));
  }

  /**
   * Events of one channel, or of every channel matching a pattern (`*` wildcard), of one
   * tenant. Validation and tenant resolution happen here, synchronously, so a bad name
   * throws at the call site. The server subscription is made on first subscribe and
   * confirmed asynchronously: await `stream.ready()` after subscribing when you must not
   * miss an event published right after. Each observer decodes its own copy of the payload.
   * Observers run in the event's tenant context, and are completed on application shutdown.
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

    return new EventStream<T>((subscriber) => {
      const observer = subscriber as Subscriber<never>;
      this.observers.add(observer);
      subscriber.add(() => this.observers.delete(observer));
      const listener: TransportListener = {
        message: (fullChannel, text) => {
          const event = this.decode<T>(fullChannel, text, namespace, tenant);
          if (!event) return;
          // Always set the context explicitly: the subscriber connection may have been opened
          // inside some request, and its callbacks would otherwise run as that request's tenant.
          if (tenant === SHARED_TENANT) this.core.tenants.exit(() => subscriber.next(event));
          else this.core.tenants.run(tenant, () => subscriber.next(event));
        },
        failed: (error) => subscriber.error(error),
      };
      return this.transport.subscribe(isPattern ? 'pattern' : 'channel', name, listener);
    });
  }

  /** Completes every open stream (SSE responses end, decorated handlers detach) and unsubscribes. */
  async beforeApplicationShutdown(): Promise<void> {
    for (const observer of [...this.observers]) observer.complete();
    await this.transport.drain();
  }

  private decode<T>(fullChannel: string, text: string, namespace: string, tenant: string): CoordinationEvent<T> | undefined {
    // A pattern can only match inside its tenant's namespace; the check guards the slice below.
    if (!fullChannel.startsWith(namespace)) return undefined;
    const channel = fullChannel.slice(namespace.length);
    try {
      const envelope = decodeEnvelope<T>(this.core.serializer, text);
      return { id: envelope.i, channel, tenant, payload: envelope.p, timestamp: envelope.t, source: envelope.s };
    } catch (error) {
      this.core.metrics.increment('events_decode_failed_total', { channel });
      this.logger.error(`Dropped an undecodable event on ${channel} (tenant ${tenant}): ${errorMessage(error)}`);
      return undefined;
    }
  }

  private emitFailed(channel: string, error: unknown): void {
    this.core.metrics.increment('events_emit_failed_total', { channel });
    const now = this.core.clock.now();
    if (now - this.lastEmitWarningAt < EMIT_WARN_INTERVAL_MS) {
      this.suppressedEmitWarnings += 1;
      return;
    }
    const suppressed = this.suppressedEmitWarnings ? ` (${this.suppressedEmitWarnings} more failures since the last warning)` : '';
    this.lastEmitWarningAt = now;
    this.suppressedEmitWarnings = 0;
    this.logger.warn(`emit('${channel}') failed: ${errorMessage(error)}${suppressed}`);
  }
}
