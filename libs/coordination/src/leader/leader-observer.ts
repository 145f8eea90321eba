import { Injectable, Logger, Optional } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { LibraryEventEmitter } from '../events/library-event-emitter.js';
import type { LeaderElectedEvent, LeaderLostEvent, LeadershipLossReason } from './leader.types.js';

/**
 * Events, metrics and logs of leader election (library-internal), one place for LeaderService
 * and its campaigns. Events go through `LibraryEventEmitter.emitAs` under the role's own tenant
 * (fire and forget: an event never fails a campaign).
 *
 * Events: `leader.elected` { role, instanceId, fencingToken }, `leader.lost` { role, instanceId,
 * fencingToken, reason }. Metrics: leader_terms_total{role}, leader_terms_lost_total{reason},
 * leader_errors_total{operation} (a store call that failed: `leader.campaign`, `leader.renew`,
 * `leader.resign`, `leader.leader`). Logs: one line per term won and per term lost.
 *
 * @example
 * observer.elected('acme', 'billing', 42);
 * observer.lost('acme', 'billing', 42, 'expired');
 */
@Injectable()
export class LeaderObserver {
  private readonly logger = new Logger('Coordination:Leader');
  /** Label objects per role and reason, built once (metrics hot path). */
  private readonly roleLabels = new Map<string, { role: string }>();

  constructor(
    private readonly core: CoordinationCore,
    @Optional() private readonly events?: LibraryEventEmitter,
  ) {}

  elected(tenant: string, role: string, fencingToken: number): void {
    let labels = this.roleLabels.get(role);
    if (!labels) this.roleLabels.set(role, (labels = { role }));
    this.core.metrics.increment('leader_terms_total', labels);
    this.logger.log(`Elected leader of ${JSON.stringify(role)} (tenant ${tenant}), fencing token ${fencingToken}`);
    const payload: LeaderElectedEvent = { role, instanceId: this.core.instanceId, fencingToken };
    this.emit(tenant, 'leader.elected', payload);
  }

  lost(tenant: string, role: string, fencingToken: number, reason: LeadershipLossReason): void {
    this.core.metrics.increment('leader_terms_lost_total', { reason });
    const line = `Lost leadership of ${JSON.stringify(role)} (tenant ${tenant}), fencing token ${fencingToken}: ${reason}`;
    if (reason === 'expired' || reason === 'replaced') this.logger.warn(line);
    else this.logger.log(line);
    const payload: LeaderLostEvent = { role, instanceId: this.core.instanceId, fencingToken, reason };
    this.emit(tenant, 'leader.lost', payload);
  }

  /**
   * A store call of `operation` failed: counted; an outage is logged at debug level only (the
   * campaign retries, and the loss it may lead to is logged), anything else as an error.
   */
  failed(operation: string, error: unknown): void {
    this.core.metrics.increment('leader_errors_total', { operation });
    if (error instanceof RedisUnavailableError) this.logger.debug?.(`${operation} failed: ${error.message}`);
    else this.logger.error(`${operation} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  private emit(tenant: string, channel: string, payload: object): void {
    try {
      this.events?.emitAs(tenant, channel, payload);
    } catch {
      // emitAs promises not to throw; leadership must not depend on it either way
    }
  }
}
