import { SpanKind } from '@opentelemetry/api';
import type { TracedOperation } from '../telemetry/tracing.js';

/**
 * Spans of durable streams (README, "Traces"): `coordination.key` is the stream's name. A handler
 * run is a CONSUMER span starting a trace of its own (entries carry no trace context), a child of
 * nothing the consumer's loop inherited; a handler that throws makes it an error.
 *
 * @example
 * const id = await tracer.trace(STREAM_APPEND, tenant, name, () => store.append(keys, data, maxLen));
 */
export const STREAM_APPEND: TracedOperation<string> = {
  name: 'stream.append',
  kind: SpanKind.PRODUCER,
  result: (span, id) => span.setAttribute('coordination.stream.entry_id', id),
};

/** One handler run of a consumer of `group`; the detail is the entry's id. */
export function streamConsume(group: string): TracedOperation<unknown> {
  return { name: 'stream.consume', kind: SpanKind.CONSUMER, root: true, detail: 'coordination.stream.entry_id', attributes: { 'coordination.stream.group': group } };
}
