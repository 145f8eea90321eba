import type { Span } from '@opentelemetry/api';
import type { TracedOperation } from '../telemetry/tracing.js';
import { IdempotencyInFlightError } from './idempotency.errors.js';
import type { IdempotencyClaim } from './idempotency.types.js';

/**
 * `run`: the whole attempt, its claim (`idempotency.begin`), the work and storing its value as
 * children (README, "Traces"). An attempt refused because another one holds the key is an outcome
 * (`coordination.idempotency.in_flight: true`); work that throws, a fingerprint mismatch and
 * outages are errors.
 *
 * @example
 * return tracer.trace(IDEMPOTENCY_RUN, tenant, key, () => runOnce(key, fn, options));
 */
export const IDEMPOTENCY_RUN: TracedOperation<unknown> = { name: 'idempotency.run', outcome: inFlight };

/** `begin` (also the claim inside `run`): `coordination.idempotency.replayed` says whether a stored value came back. */
export const IDEMPOTENCY_BEGIN: TracedOperation<IdempotencyClaim<unknown>> = {
  name: 'idempotency.begin',
  result: (span, claim) => span.setAttribute('coordination.idempotency.replayed', claim.replay),
  outcome: inFlight,
};

function inFlight(span: Span, error: unknown): boolean {
  if (!(error instanceof IdempotencyInFlightError)) return false;
  span.setAttribute('coordination.idempotency.in_flight', true);
  return true;
}
