import { Injectable, Logger, Optional } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { outageAs, runAs } from '../errors/outage-operation.js';
import { LibraryEventEmitter } from '../events/library-event-emitter.js';
import { SessionKeys } from './session-keys.js';
import type { SessionCreatedEvent, SessionEndedEvent } from './session.types.js';

type EndReason = NonNullable<SessionEndedEvent['reason']>;

const DESTROYED = {
  destroy: { reason: 'destroy' },
  regenerated: { reason: 'regenerated' },
  evicted: { reason: 'evicted' },
  revoked: { reason: 'revoked' },
} as const;

/**
 * Events and metrics of sessions (library-internal), shared by SessionService and the
 * background pruner. Events go through `LibraryEventEmitter.emitAs` under the session's own
 * tenant (fire and forget: an event never fails a session operation) and carry the session's
 * non-secret `handle`, never its id.
 *
 * Events: `session.created` { handle, userId, companyId?, crewId? }, `session.destroyed`
 * { handle, userId, reason: destroy | regenerated | evicted }, `session.revoked` { handle, userId }
 * (destroyAllForUser), `session.expired` { handle, userId } (members pruned from an index).
 * Metrics: sessions_created_total, sessions_destroyed_total{reason: destroy | regenerated |
 * evicted | revoked}, sessions_expired_total, sessions_limit_rejected_total,
 * sessions_version_conflicts_total, sessions_errors_total{operation} (Redis unreachable; `decode`
 * for a record the serializer cannot decode, also logged as a warning naming its handle), and the
 * gauge sessions_active{tenant} (live sessions of the fleet, from the last prune pass this
 * instance ran; see activeSessions).
 *
 * @example
 * observer.created('acme', session.id, 'ada');
 * observer.expired('acme', 'ada', ['Jx3…Q2f']);
 */
@Injectable()
export class SessionObserver {
  private readonly logger = new Logger('Coordination:Sessions');
  /** The tenants whose `sessions_active` series this instance reports now. */
  private activeTenants = new Set<string>();

  constructor(
    private readonly core: CoordinationCore,
    private readonly keys: SessionKeys,
    @Optional() private readonly events?: LibraryEventEmitter,
  ) {}

  created(tenant: string, id: string, userId: string, companyId?: string, crewId?: string): void {
    this.core.metrics.increment('sessions_created_total');
    const payload: SessionCreatedEvent = { handle: this.keys.handle(id), userId };
    if (companyId !== undefined) payload.companyId = companyId;
    if (crewId !== undefined) payload.crewId = crewId;
    this.emit(tenant, 'session.created', payload);
  }

  /** `session.destroyed` for the sessions `members` of `userId`. */
  destroyed(tenant: string, userId: string, members: readonly string[], reason: EndReason): void {
    this.ended(tenant, userId, members, 'session.destroyed', reason);
  }

  /** `session.revoked` for the sessions `destroyAllForUser` deleted. */
  revoked(tenant: string, userId: string, members: readonly string[]): void {
    this.ended(tenant, userId, members, 'session.revoked', 'revoked');
  }

  /** `session.expired` for the members pruned from the index of `userId`. */
  expired(tenant: string, userId: string, members: readonly string[]): void {
    if (members.length === 0) return;
    this.core.metrics.increment('sessions_expired_total', undefined, members.length);
    for (const member of members) this.emit(tenant, 'session.expired', { handle: this.handleOf(tenant, member), userId });
  }

  /**
   * The live sessions per tenant a complete prune pass counted across the fleet (tenants with
   * none are left out), as the `sessions_active{tenant}` gauges; series of tenants no longer
   * listed are removed. `undefined`: another instance ran the pass of this turn, so this one
   * stops reporting (its counts are older than that pass's).
   */
  activeSessions(live: ReadonlyMap<string, number> | undefined): void {
    const now = new Set(live?.keys());
    for (const tenant of this.activeTenants) if (!now.has(tenant)) this.core.metrics.removeGauge('sessions_active', { tenant });
    for (const [tenant, count] of live ?? []) this.core.metrics.setGauge('sessions_active', count, { tenant });
    this.activeTenants = now;
  }

  limitRejected(): void {
    this.core.metrics.increment('sessions_limit_rejected_total');
  }

  versionConflict(): void {
    this.core.metrics.increment('sessions_version_conflicts_total');
  }

  /**
   * A session whose `field` the serializer cannot decode: counted, and logged by handle (never
   * its id, nor the undecodable value), `ended` telling whether it is being ended.
   */
  undecodable(tenant: string, member: string, field: string | undefined, ended: boolean): void {
    this.core.metrics.increment('sessions_errors_total', { operation: 'decode' });
    const what = field === undefined ? 'a value' : JSON.stringify(field); // a data field name may hold any character
    this.logger.warn(
      `Session ${this.handleOf(tenant, member)} of tenant ${tenant}: the serializer cannot decode ${what} of its record; ${ended ? 'ending it' : 'left out'}`,
    );
  }

  /**
   * Runs one store call of `operation`, rethrowing its failure as `failed` names it (an outage
   * counted and renamed after the public method).
   *
   * @example
   * const fields = await observer.run('sessions.get', () => store.read(key, true));
   */
  run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return runAs(operation, work, (error) => this.failed(error, operation));
  }

  /**
   * What a failed store call of `operation` throws: an outage counted and renamed after the
   * public method (`sessions.get`, not the store's script); anything else unchanged.
   */
  failed(error: unknown, operation: string): unknown {
    if (error instanceof RedisUnavailableError) this.core.metrics.increment('sessions_errors_total', { operation });
    return outageAs(error, operation);
  }

  private ended(tenant: string, userId: string, members: readonly string[], channel: string, reason: EndReason | 'revoked'): void {
    if (members.length === 0) return;
    this.core.metrics.increment('sessions_destroyed_total', DESTROYED[reason], members.length);
    for (const member of members) {
      const payload: SessionEndedEvent = { handle: this.handleOf(tenant, member), userId };
      if (reason !== 'revoked') payload.reason = reason;
      this.emit(tenant, channel, payload);
    }
  }

  private handleOf(tenant: string, member: string): string {
    return this.keys.handle(this.keys.idOf(tenant, member));
  }

  private emit(tenant: string, channel: string, payload: object): void {
    try {
      this.events?.emitAs(tenant, channel, payload);
    } catch {
      // emitAs promises not to throw; a session operation must not depend on it either way
    }
  }
}
