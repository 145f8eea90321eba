import type { Span } from '@opentelemetry/api';
import type { TracedOperation } from '../telemetry/tracing.js';
import type { Lock } from './lock.js';
import { LockTimeoutError } from './lock.errors.js';

/**
 * Spans of lock operations (README, "Traces"). A lock not acquired within `waitMs` (LockTimeoutError,
 * or `tryAcquire` returning null) is an outcome, `coordination.lock.acquired: false`; deadlocks,
 * aborts, shutdown refusals, outages and lost locks are errors.
 *
 * @example
 * return tracer.trace(LOCK_ACQUIRE, tenant, key, () => acquire(), plan.kind);
 */
export const LOCK_ACQUIRE: TracedOperation<Lock> = {
  name: 'lock.acquire',
  detail: 'coordination.lock.kind',
  result: (span, lock) => {
    span.setAttribute('coordination.lock.acquired', true);
    span.setAttribute('coordination.lock.fencing_token', lock.fencingToken);
  },
  outcome: notAcquired,
};

/** Release of a held lock (any kind); the detail is its fencing token. */
export const LOCK_RELEASE: TracedOperation<void> = { name: 'lock.release', detail: 'coordination.lock.fencing_token' };

/** An explicit `lock.extend()` (automatic renewals make no span); the detail is its fencing token. */
export const LOCK_EXTEND: TracedOperation<void> = { name: 'lock.extend', detail: 'coordination.lock.fencing_token' };

/** `withLock` / `@WithLock`: acquisition, the section and the release, as its children. */
export const LOCK_SECTION: TracedOperation<unknown> = { name: 'lock.withLock', outcome: notAcquired };

function notAcquired(span: Span, error: unknown): boolean {
  if (!(error instanceof LockTimeoutError)) return false;
  span.setAttribute('coordination.lock.acquired', false);
  return true;
}
