import type { TracedOperation } from '../telemetry/tracing.js';
import type { CampaignReply } from './leader-store.interface.js';

/**
 * One election attempt of a campaign (README, "Traces"): `coordination.key` is the role,
 * `coordination.leader.elected` whether it won (losing is an outcome, not an error). Attempts run
 * in the campaign's background loop, so each starts a trace of its own; renewals make no span.
 *
 * @example
 * const reply = await tracer.trace(LEADER_CAMPAIGN, tenant, role, () => store.campaign(keys, candidate, instanceId, leaseMs));
 */
export const LEADER_CAMPAIGN: TracedOperation<CampaignReply> = {
  name: 'leader.campaign',
  root: true,
  result: (span, reply) => {
    span.setAttribute('coordination.leader.elected', reply.elected);
    if (reply.elected) span.setAttribute('coordination.leader.fencing_token', reply.fencingToken);
  },
};
