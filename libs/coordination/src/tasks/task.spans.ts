import { SpanKind } from '@opentelemetry/api';
import type { TracedOperation } from '../telemetry/tracing.js';
import type { StoredTask } from './task-backend.interface.js';

/**
 * `enqueue` / `enqueueMany`: a PRODUCER span whose `coordination.key` is the task name; the detail
 * is how many tasks, `coordination.task.id` the task's id when there is one (its digest with
 * `telemetry.hashKeys`, as every key; README, "Traces").
 * Its context travels with each task as a W3C traceparent (in the job's data), so the run is its child.
 *
 * @example
 * const stored = await tracer.trace(TASK_ENQUEUE, tenant, name, () => backend.add(name, tenant, tasks), tasks.length);
 */
export const TASK_ENQUEUE: TracedOperation<readonly StoredTask[]> = {
  name: 'task.enqueue',
  kind: SpanKind.PRODUCER,
  detail: 'coordination.task.count',
  result: (span, stored, tracer) => {
    // The id (the task name and its jobId) is a key like any other: a digest with hashKeys.
    if (stored.length === 1) span.setAttribute('coordination.task.id', tracer.key(`${stored[0].name}:${stored[0].jobId}`));
  },
};

/**
 * One attempt of a task in a worker: a CONSUMER span, a child of the enqueue's span (every attempt,
 * also after a delay or a retry), else the root of a trace; a handler that throws makes it an error.
 */
export const TASK_RUN: TracedOperation<unknown> = { name: 'task.run', kind: SpanKind.CONSUMER, root: true };
