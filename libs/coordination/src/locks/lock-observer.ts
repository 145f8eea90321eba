import { SHARED_TENANT } from '../keys/key-builder.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { EventBus } from '../events/event-bus.js';
import type { Lock } from './lock.js';
import type { LockKind } from './lock.types.js';

const LABELS = { mutex: { kind: 'mutex' }, permit: { kind: 'permit' }, read: { kind: 'read' }, write: { kind: 'write' } } as const;

/**
 * Events and metrics of the locks capability. Events go through `EventBus.emit` (fire and
 * forget: observability never fails a lock operation).
 *
 * Events: lock.acquired { waitedMs, contended }, lock.released { heldMs }, lock.extended
 * { renewal, renewals }, lock.lost { reason, heldMs }, lock.timeout { waitedMs }, lock.deadlock { cycle }.
 * Metrics: lock_acquire_ms (histogram of whole acquire calls; its count is the number of
 * acquisitions), lock_wait_ms (histogram, contended waits only), lock_contended_total,
 * lock_timeout_total, lock_lost_total, lock_deadlock_total, labelled by kind.
 */
export class LockObserver {
  constructor(private readonly metrics: MetricsRegistry, private readonly events: EventBus | null, private readonly now: () => number) {}

  acquired(lock: Lock, startedAt: number, contended: boolean): void {
    const waitedMs = this.now() - startedAt;
    const labels = LABELS[lock.kind];
    // The histogram's count is the number of acquisitions: one series update on the fast path.
    this.metrics.observe('lock_acquire_ms', waitedMs, labels);
    if (contended) this.metrics.observe('lock_wait_ms', waitedMs, labels);
    if (this.events) this.emit('lock.acquired', lock.tenant, { ...this.describe(lock), waitedMs, contended });
  }

  contended(kind: LockKind): void {
    this.metrics.increment('lock_contended_total', { kind });
  }

  released(lock: Lock): void {
    if (this.events) this.emit('lock.released', lock.tenant, { ...this.describe(lock), heldMs: this.now() - lock.acquiredAt });
  }

  extended(lock: Lock, renewal: boolean): void {
    if (this.events) this.emit('lock.extended', lock.tenant, { ...this.describe(lock), renewal, renewals: lock.renewals, expiresAt: lock.expiresAt });
  }

  lost(lock: Lock, reason: string): void {
    this.metrics.increment('lock_lost_total', { kind: lock.kind });
    this.emit('lock.lost', lock.tenant, { ...this.describe(lock), reason, heldMs: this.now() - lock.acquiredAt });
  }

  timedOut(kind: LockKind, key: string, tenant: string, startedAt: number): void {
    const waitedMs = this.now() - startedAt;
    this.metrics.increment('lock_timeout_total', { kind });
    this.metrics.observe('lock_wait_ms', waitedMs, { kind });
    this.emit('lock.timeout', tenant, { key, kind, waitedMs });
  }

  deadlock(key: string, tenant: string, cycle: readonly string[], startedAt: number): void {
    this.metrics.increment('lock_deadlock_total', { kind: 'mutex' });
    this.emit('lock.deadlock', tenant, { key, cycle, waitedMs: this.now() - startedAt });
  }

  private describe(lock: Lock) {
    return { key: lock.key, kind: lock.kind, owner: lock.owner, fencingToken: lock.fencingToken };
  }

  private emit(channel: string, tenant: string, payload: Record<string, unknown>): void {
    try {
      // The shared tenant cannot be named explicitly; it is what an absent tenant resolves to.
      this.events?.emit(channel, payload, tenant === SHARED_TENANT ? {} : { tenant });
    } catch {
      // emit() promises not to throw; a lock operation must not depend on it either way
    }
  }
}
