import { SpanKind } from '@opentelemetry/api';
import type { TracedOperation } from '../telemetry/tracing.js';

/**
 * `publish` (and `emit`) of an application event: a PRODUCER span whose `coordination.key` is the
 * channel (README, "Traces"). Library events (`lock.acquired`, ...) make none.
 *
 * @example
 * await tracer.trace(EVENTS_PUBLISH, tenant, channel, () => library.send(tenant, channel, payload));
 */
export const EVENTS_PUBLISH: TracedOperation<void> = { name: 'events.publish', kind: SpanKind.PRODUCER };
