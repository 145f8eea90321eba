import { Inject, Injectable, Logger } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { createEnvelope, encodeEnvelope } from './event-envelope.js';
import { errorMessage } from './error-message.js';
import { EVENT_TRANSPORT, type EventTransport } from './event-transport.interface.js';

/** Capability segment of event channels: `<prefix>:<tenant>:events:<channel>`. */
export const EVENTS_CAPABILITY_SEGMENT = 'events';
/** emit failures are logged at most this often (each is counted), so an outage does not flood the log. */
const EMIT_WARN_INTERVAL_MS = 10_000;

/**
 * Internal: publishes under a tenant already resolved, the shared namespace (`_shared`)
 * included, which `EventBus` rejects. EventBus publishes through it once it has validated the
 * channel and resolved the tenant; the library's own events (LockObserver, ViolationRecorder)
 * go through `emitAs`. Registered by the events capability, neither exported by the module nor
 * by the package index, so an application cannot publish into `_shared`.
 */
@Injectable()
export class LibraryEventEmitter {
  private readonly logger = new Logger('Coordination:Events');
  private lastEmitWarningAt = -Infinity;
  private suppressedEmitWarnings = 0;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(EVENT_TRANSPORT) private readonly transport: EventTransport,
  ) {}

  /**
   * Fire and forget, under the tenant of the operation the event is about: library events are
   * often emitted from a renewal timer or a batched flush, whose async context belongs to
   * whichever call armed it, so they never take their tenant from the context. `channel` is one
   * of the library's constant channel names. Never throws; a failure is counted and logged.
   *
   * @example
   * this.events?.emitAs(lock.tenant, 'lock.extended', { key: lock.key, renewal: true });
   */
  emitAs(tenant: string, channel: string, payload: unknown): void {
    this.send(tenant, channel, payload).catch((error: unknown) => this.emitFailed(channel, error));
  }

  /** Publishes `payload` on `channel` of `tenant` (validated by the key builder); resolves once the transport accepted it. */
  async send(tenant: string, channel: string, payload: unknown): Promise<void> {
    const target = this.core.keys.channel(tenant, EVENTS_CAPABILITY_SEGMENT, channel);
    const message = encodeEnvelope(this.core.serializer, createEnvelope(payload, this.core.clock.now(), this.core.instanceId));
    try {
      await this.transport.publish(target, message);
    } catch (error) {
      this.core.metrics.increment('events_publish_failed_total', { channel });
      throw error;
    }
    this.core.metrics.increment('events_published_total', { channel });
  }

  /** Counts a lost fire-and-forget event in `events_emit_failed_total` and logs it (rate-limited). */
  emitFailed(channel: string, error: unknown): void {
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
