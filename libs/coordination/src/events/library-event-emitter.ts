import { Inject, Injectable, Logger } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { kindOf } from '../keys/key-builder.js';
import type { CounterHandle } from '../metrics/metrics-registry.js';
import { createEnvelope, encodeEnvelope } from './event-envelope.js';
import { errorMessage } from './error-message.js';
import { EVENT_TRANSPORT, type EventTransport } from './event-transport.interface.js';

/** Capability segment of event channels: `<prefix>:<tenant>:events:<channel>`. */
export const EVENTS_CAPABILITY_SEGMENT = 'events';
/** emit failures are logged at most this often (each is counted), so an outage does not flood the log. */
const EMIT_WARN_INTERVAL_MS = 10_000;
/** Publish targets (tenant and channel) remembered; all are forgotten at once past this (channel names may carry ids). */
export const MAX_PUBLISH_TARGETS = 10_000;

/** What publishing on one channel of one tenant needs, made once: its full name and its outcome handlers. */
interface PublishTarget {
  readonly name: string;
  /** Counts a publish the transport accepted. */
  readonly published: () => void;
  /** Counts a publish that failed, and rethrows its error. */
  readonly failed: (error: unknown) => never;
}

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
  /** By tenant, then channel: a publish builds no channel name, label object or callback. */
  private readonly targets = new Map<string, Map<string, PublishTarget>>();
  private targetCount = 0;

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

  /**
   * Publishes `payload` on `channel` of `tenant` (validated by the key builder); resolves once the
   * transport accepted it. Never throws: a bad tenant or payload rejects.
   */
  send(tenant: string, channel: string, payload: unknown): Promise<void> {
    let target: PublishTarget;
    let message: string;
    try {
      target = this.target(tenant, channel);
      message = encodeEnvelope(this.core.serializer, createEnvelope(payload, this.core.clock.now(), this.core.instanceId));
    } catch (error) {
      // Nothing reached the transport: not a failed publish, so not counted as one.
      return Promise.reject(error);
    }
    let accepted: Promise<void>;
    try {
      accepted = this.transport.publish(target.name, message);
    } catch (error) {
      // A transport that throws instead of rejecting failed to publish all the same: counted.
      return Promise.reject(error).catch(target.failed);
    }
    // One `then` on the transport's promise: on every event, an async function would add two more.
    return accepted.then(target.published, target.failed);
  }

  /**
   * Counts a lost fire-and-forget event in `events_emit_failed_total` and logs it (rate-limited).
   * `channel` is what the caller passed: a channel that is not a string (refused by publish) is
   * counted and logged under its type (`an object`, `a symbol`), since a cycle, a BigInt or a
   * symbol cannot be a label or sit in a log line.
   */
  emitFailed(channel: unknown, error: unknown): void {
    if (typeof channel !== 'string') channel = kindOf(channel);
    this.core.metrics.increment('events_emit_failed_total', { channel: channel as string });
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

  private target(tenant: string, channel: string): PublishTarget {
    let byChannel = this.targets.get(tenant);
    const known = byChannel?.get(channel);
    if (known !== undefined) return known;
    const name = this.core.keys.channel(tenant, EVENTS_CAPABILITY_SEGMENT, channel);
    if (this.targetCount >= MAX_PUBLISH_TARGETS) {
      this.targets.clear();
      this.targetCount = 0;
      byChannel = undefined;
    }
    if (byChannel === undefined) this.targets.set(tenant, (byChannel = new Map()));
    const metrics = this.core.metrics;
    // Bound on the first success: a channel nothing got through on shows no zero series.
    let published: CounterHandle | undefined;
    const target: PublishTarget = {
      name,
      published: () => (published ??= metrics.counterOf('events_published_total', { channel })).add(),
      failed: (error) => {
        metrics.increment('events_publish_failed_total', { channel });
        throw error;
      },
    };
    byChannel.set(channel, target);
    this.targetCount += 1;
    return target;
  }
}
