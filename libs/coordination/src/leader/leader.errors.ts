import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';
import type { LeadershipLossReason } from './leader.types.js';

/**
 * The application is shutting down: a pending `LeaderCampaign.elected()` rejects with it, and the
 * signal of a held term or a running singleton job aborts with it. 503 through the filter.
 *
 * @example
 * try { const term = await campaign.elected(); } catch (e) { if (e instanceof LeaderShutdownError) return; }
 */
export class LeaderShutdownError extends CoordinationError {
  constructor(readonly role: string) {
    super(ErrorCode.LeaderShutdown, `Leadership of ${JSON.stringify(role)} ended: the application is shutting down`, { role });
  }
}

/**
 * The reason a term's `signal` aborts with when the term ends other than by shutdown: it could not
 * be renewed in time (`expired`), another candidate holds the role (`replaced`), or it was
 * resigned. Work the leader started under the term should stop. 409 through the filter.
 *
 * @example
 * term.signal.addEventListener('abort', () => {
 *   if (term.signal.reason instanceof LeaderLostError) logger.warn(`no longer leading: ${term.signal.reason.reason}`);
 * });
 */
export class LeaderLostError extends CoordinationError {
  constructor(readonly role: string, readonly fencingToken: number, readonly reason: LeadershipLossReason) {
    super(ErrorCode.LeaderLost, `Leadership of ${JSON.stringify(role)} (fencing token ${fencingToken}) ended: ${reason}`, { role, fencingToken, reason });
  }
}
