import type { Span } from '@opentelemetry/api';
import type { TracedOperation } from '../telemetry/tracing.js';
import { SessionLimitError, SessionNotFoundError, SessionVersionConflictError } from './session.errors.js';
import type { Session } from './session.types.js';

/** The spans of one SessionService (their `keyOf` needs its SessionKeys). */
export interface SessionSpans {
  readonly create: TracedOperation<Session>;
  readonly get: TracedOperation<Session | null>;
  readonly update: TracedOperation<Session>;
  readonly destroy: TracedOperation<boolean>;
}

/**
 * Spans of session operations (README, "Traces"). A session id is a bearer secret: spans carry
 * its handle (`handle(id)`, the non-secret reference of lists, logs and events) as
 * `coordination.key`, never the id, whatever `hashKeys` says. A session not found, a version
 * conflict and a per-user limit refusal are outcomes, not errors.
 *
 * @example
 * const spans = sessionSpans((id) => keys.handle(id));
 * return tracer.trace(spans.get, target.tenant, id, () => read());
 */
export function sessionSpans(handle: (id: string) => string): SessionSpans {
  return {
    create: {
      name: 'session.create',
      // The id (so the handle) exists once created.
      result: (span, session) => span.setAttribute('coordination.key', session.handle),
      outcome: (span, error) => error instanceof SessionLimitError && (span.setAttribute('coordination.session.limited', true), true),
    },
    get: { name: 'session.get', keyOf: handle, result: (span, session) => span.setAttribute('coordination.session.found', session !== null) },
    update: { name: 'session.update', keyOf: handle, result: (span) => span.setAttribute('coordination.session.found', true), outcome: notUpdated },
    destroy: { name: 'session.destroy', keyOf: handle, result: (span, destroyed) => span.setAttribute('coordination.session.destroyed', destroyed) },
  };
}

function notUpdated(span: Span, error: unknown): boolean {
  if (error instanceof SessionNotFoundError) span.setAttribute('coordination.session.found', false);
  else if (error instanceof SessionVersionConflictError) span.setAttribute('coordination.session.conflict', true);
  else return false;
  return true;
}
