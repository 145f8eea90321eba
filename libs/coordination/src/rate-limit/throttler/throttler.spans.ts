import type { TracedOperation } from '../../telemetry/tracing.js';
import type { CoordinationThrottlerRecord } from './throttler.types.js';

/**
 * The span of one @nestjs/throttler hit (README, "Traces"): `coordination.ratelimit.policy` is the
 * throttler's name; a blocked hit is an outcome (`coordination.ratelimit.allowed: false`), never
 * an error. Failing closed while Redis is unreachable throws, and is an error.
 *
 * @example
 * const record = await tracer.trace(THROTTLER_INCREMENT, tenant, key, () => decider.decide(...), throttlerName);
 */
export const THROTTLER_INCREMENT: TracedOperation<CoordinationThrottlerRecord> = {
  name: 'ratelimit.throttle',
  detail: 'coordination.ratelimit.policy',
  result: (span, record) => {
    span.setAttribute('coordination.ratelimit.allowed', !record.isBlocked);
    span.setAttribute('coordination.ratelimit.source', record.source);
    span.setAttribute('coordination.ratelimit.total_hits', record.totalHits);
  },
};
