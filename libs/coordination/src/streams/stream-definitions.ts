import { InvalidArgumentError } from '../errors/coordination.error.js';
import type { CrewStreamEvent, MetricsStreamEvent, StreamDefinition, SystemStreamEvent } from './stream.types.js';

/**
 * Names a stream together with the type of its entries, so that `append`, `read`, `consume` and
 * `@StreamConsumer` are typed by it.
 *
 * @example
 * export const ORDERS = defineStream<{ orderId: string; total: number }>('orders', { maxLen: 50_000 });
 * await streams.append(ORDERS, { orderId: 'o-1', total: 42 }); // typed
 */
export function defineStream<T>(name: string, options: { maxLen?: number } = {}): StreamDefinition<T> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('name', 'must be a non-empty string', name);
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'must be an object', options);
  if (options.maxLen !== undefined && (!Number.isInteger(options.maxLen) || options.maxLen < 0)) {
    throw new InvalidArgumentError('maxLen', 'must be an integer >= 0 (0 never trims)', options.maxLen);
  }
  return Object.freeze({ name, ...(options.maxLen === undefined ? {} : { maxLen: options.maxLen }) });
}

/**
 * The seeds' crew events (`crew.run.started`, `crew.run.completed`, `crew.run.failed`,
 * `crew.agent.message`), one stream per tenant.
 *
 * @example
 * await streams.append(CREW_EVENTS, { type: 'crew.run.completed', crewId, runId, durationMs: 812, at: new Date() });
 */
export const CREW_EVENTS: StreamDefinition<CrewStreamEvent> = defineStream<CrewStreamEvent>('crew-events');

/**
 * The seeds' system events (instances starting and stopping, alerts).
 *
 * @example
 * await streams.append(SYSTEM_EVENTS, { type: 'system.alert', severity: 'warning', message: 'queue backlog', at: new Date() });
 */
export const SYSTEM_EVENTS: StreamDefinition<SystemStreamEvent> = defineStream<SystemStreamEvent>('system-events');

/**
 * The seeds' metrics events (one sample per entry), trimmed shorter than other streams by default.
 *
 * @example
 * await streams.append(METRICS_EVENTS, { type: 'metrics.sample', name: 'crew.run.ms', value: 812, unit: 'ms', at: new Date() });
 */
export const METRICS_EVENTS: StreamDefinition<MetricsStreamEvent> = defineStream<MetricsStreamEvent>('metrics-events', { maxLen: 10_000 });
