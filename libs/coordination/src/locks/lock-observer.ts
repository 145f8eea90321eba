import type { KeyBuilder } from '../keys/key-builder.js';
import type { CounterHandle, HistogramHandle, MetricsRegistry } from '../metrics/metrics-registry.js';
import type { LibraryEventEmitter } from '../events/library-event-emitter.js';
import type { Lock } from './lock.js';
import { LockScriptEvents } from './lock-script-events.js';
import type { ScriptEvent } from './lock-store.interface.js';
import type { LockKind } from './lock.types.js';
import type { LockEventsMode } from './lock.options.js';

const LABELS = { mutex: { kind: 'mutex' }, permit: { kind: 'permit' }, read: { kind: 'read' }, write: { kind: 'write' } } as const;
const PUBLISHED = { acquired: { channel: 'lock.acquired' }, released: { channel: 'lock.released' } } as const;

/** What the lock scripts need to publish events themselves (the Redis store only). */
export interface ScriptEventContext {
  keys: KeyBuilder;
  instanceId: string;
}

/**
 * Events and metrics of the locks capability. Events go through `LibraryEventEmitter.emitAs`, under the
 * lock's tenant (fire and forget: observability never fails a lock operation), except on the
 * hot path of the Redis store with `locks.events: 'all'`: there the acquire and release scripts
 * PUBLISH `lock.acquired` (uncontended) and `lock.released` themselves (see LockScriptEvents),
 * so an event costs no round trip of its own.
 *
 * Which events are published follows `locks.events` (LockEventsMode): lost, timeout, deadlock and
 * contended acquisitions unless 'none'; uncontended acquisitions, releases and extensions only
 * with 'all'. Metrics are kept in every mode.
 *
 * Events: lock.acquired { waitedMs, contended } (waitedMs is 0 when the lock was free at once),
 * lock.released { heldMs }, lock.extended { renewal, renewals }, lock.lost { reason, heldMs },
 * lock.timeout { waitedMs }, lock.deadlock { cycle }.
 * Metrics: lock_acquire_ms (histogram of whole acquire calls; its count is the number of
 * acquisitions), lock_wait_ms (histogram, contended waits only), lock_contended_total,
 * lock_timeout_total, lock_lost_total, lock_deadlock_total, lock_renewals_total (automatic
 * renewals), lock_renewal_failures_total (automatic renewals Redis did not answer: retried while
 * the lock may still be held, then it is lost), labelled by kind.
 */
export class LockObserver {
  private readonly scripts: LockScriptEvents | null;
  // Series of the uncontended fast path (acquire, release), bound at first use: a lookup by name
  // and labels costs more than the update itself.
  private readonly acquireMs: Partial<Record<LockKind, HistogramHandle>> = {};
  private publishedAcquired?: CounterHandle;
  private publishedReleased?: CounterHandle;
  /** Null with `locks.events: 'none'`. */
  private readonly events: LibraryEventEmitter | null;
  /** `locks.events: 'all'`: uncontended acquisitions, releases and extensions are published too. */
  readonly all: boolean;

  constructor(
    private readonly metrics: MetricsRegistry,
    events: LibraryEventEmitter | null,
    private readonly now: () => number,
    script: ScriptEventContext | null,
    mode: LockEventsMode,
  ) {
    this.events = mode === 'none' ? null : events;
    this.all = mode === 'all' && this.events !== null;
    this.scripts = this.all && script ? new LockScriptEvents(script.keys, script.instanceId, now) : null;
  }

  /**
   * The lock.acquired event for the acquire script to publish on success; it appends the
   * fencing token. Undefined unless `locks.events` is 'all' and the store publishes by script.
   */
  acquiredByScript(key: string, kind: LockKind, owner: string, tenant: string): ScriptEvent | undefined {
    return this.scripts?.acquired(key, kind, owner, tenant);
  }

  /** The whole lock.released event, for the release script to publish when it releases. */
  releasedByScript(lock: Lock): ScriptEvent | undefined {
    return this.scripts?.released(lock);
  }

  /** `published`: the acquire script already published lock.acquired. */
  acquired(lock: Lock, startedAt: number, contended: boolean, published = false): void {
    const waitedMs = this.now() - startedAt;
    const labels = LABELS[lock.kind];
    // The histogram's count is the number of acquisitions: one series update on the fast path.
    (this.acquireMs[lock.kind] ??= this.metrics.histogramOf('lock_acquire_ms', labels)).observe(waitedMs);
    if (contended) this.metrics.observe('lock_wait_ms', waitedMs, labels);
    if (published) (this.publishedAcquired ??= this.metrics.counterOf('events_published_total', PUBLISHED.acquired)).add();
    else if (contended ? this.events : this.all) this.emit('lock.acquired', lock.tenant, { ...this.describe(lock), waitedMs, contended });
  }

  contended(kind: LockKind): void {
    this.metrics.increment('lock_contended_total', LABELS[kind]);
  }

  /** `published`: the release script already published lock.released. */
  released(lock: Lock, published = false): void {
    if (published) (this.publishedReleased ??= this.metrics.counterOf('events_published_total', PUBLISHED.released)).add();
    else if (this.all) this.emit('lock.released', lock.tenant, { ...this.describe(lock), heldMs: this.now() - lock.acquiredAt });
  }

  extended(lock: Lock, renewal: boolean): void {
    if (renewal) this.metrics.increment('lock_renewals_total', LABELS[lock.kind]);
    if (this.all) this.emit('lock.extended', lock.tenant, { ...this.describe(lock), renewal, renewals: lock.renewals, expiresAt: lock.expiresAt });
  }

  renewalFailed(lock: Lock): void {
    this.metrics.increment('lock_renewal_failures_total', LABELS[lock.kind]);
  }

  lost(lock: Lock, reason: string): void {
    this.metrics.increment('lock_lost_total', LABELS[lock.kind]);
    this.emit('lock.lost', lock.tenant, { ...this.describe(lock), reason, heldMs: this.now() - lock.acquiredAt });
  }

  timedOut(kind: LockKind, key: string, tenant: string, startedAt: number): void {
    const waitedMs = this.now() - startedAt;
    this.metrics.increment('lock_timeout_total', LABELS[kind]);
    this.metrics.observe('lock_wait_ms', waitedMs, LABELS[kind]);
    this.emit('lock.timeout', tenant, { key, kind, waitedMs });
  }

  deadlock(key: string, tenant: string, cycle: readonly string[], startedAt: number): void {
    this.metrics.increment('lock_deadlock_total', LABELS.mutex);
    this.emit('lock.deadlock', tenant, { key, cycle, waitedMs: this.now() - startedAt });
  }

  private describe(lock: Lock) {
    return { key: lock.key, kind: lock.kind, owner: lock.owner, fencingToken: lock.fencingToken };
  }

  /**
   * Always under the lock's own tenant (`_shared` included): renewals and expiry checks run on
   * a timer shared by every lock of the service, in the async context of whichever call armed
   * it, so the context's tenant may be another lock's.
   */
  private emit(channel: string, tenant: string, payload: Record<string, unknown>): void {
    try {
      this.events?.emitAs(tenant, channel, payload);
    } catch {
      // emit() promises not to throw; a lock operation must not depend on it either way
    }
  }
}

