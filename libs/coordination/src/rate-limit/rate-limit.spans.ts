import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { ErrorCode } from '../errors/coordination.error.js';
import type { TracedOperation } from '../telemetry/tracing.js';
import type { RateLimitDecision, RateLimitResult } from './rate-limit.types.js';

/**
 * Spans of rate-limit decisions (README, "Traces"). A denial is an outcome
 * (`coordination.ratelimit.allowed: false`), never an error, also from `enforce` (whose
 * RateLimitedError is thrown after the span ended); failing closed while Redis is unreachable is
 * an error.
 *
 * @example
 * const decision = await tracer.trace(RATELIMIT_CONSUME, tenant, key, () => decider.decide(request), policy.name);
 */
export const RATELIMIT_CONSUME: TracedOperation<RateLimitDecision> = {
  name: 'ratelimit.consume',
  detail: 'coordination.ratelimit.policy',
  result: (span, decision) => decided(span, decision, decision.results[0]),
};

/** consumeMany / enforceMany (and RateLimitGuard): one span, `coordination.key` only with one check; the detail is the number of checks. */
export const RATELIMIT_CONSUME_MANY: TracedOperation<RateLimitDecision> = {
  name: 'ratelimit.consume',
  detail: 'coordination.ratelimit.checks',
  result: (span, decision, tracer) => {
    const violated = decision.violated;
    decided(span, decision, violated);
    if (violated === undefined) return;
    span.setAttribute('coordination.ratelimit.policy', violated.policy);
    span.setAttribute('coordination.ratelimit.violated_key', tracer.key(violated.key));
  },
};

/** `peek`: the decision a call of cost 1 would get, nothing consumed. */
export const RATELIMIT_PEEK: TracedOperation<RateLimitDecision> = { ...RATELIMIT_CONSUME, name: 'ratelimit.peek' };

export const RATELIMIT_RESET: TracedOperation<void> = { name: 'ratelimit.reset', detail: 'coordination.ratelimit.policy' };

function decided(span: Span, decision: RateLimitDecision, result: RateLimitResult | undefined): void {
  span.setAttribute('coordination.ratelimit.allowed', decision.allowed);
  span.setAttribute('coordination.ratelimit.source', decision.source);
  if (result !== undefined) span.setAttribute('coordination.ratelimit.remaining', result.remaining);
  // Denied because Redis was unreachable (rateLimit.onRedisUnavailable: 'fail-closed'), not by the
  // limit: a failure, though consume resolves (enforce throws RedisUnavailableError for it).
  if (decision.source === 'fail-closed') span.setStatus({ code: SpanStatusCode.ERROR, message: ErrorCode.RedisUnavailable });
}
