import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';

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
