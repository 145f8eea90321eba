import type { Serializer } from '../serialization/serializer.js';
import type { CoordinationTracer } from '../telemetry/tracing.js';
import type { TenantContext } from '../tenancy/tenant-context.js';
import type { StreamKeyPair, StreamStore } from './stream-store.interface.js';
import type { ResolvedStreamConsumerDefaults } from './stream.options.js';
import type { StreamHandler } from './stream.types.js';

/**
 * What one consumer consumes, with every option resolved.
 *
 * @example
 * const spec: ConsumerSpec = { keys, stream: 'orders', tenant: 'acme', group: 'billing', consumer: 'w1', handler, settings };
 */
export interface ConsumerSpec {
  readonly keys: StreamKeyPair;
  readonly stream: string;
  readonly tenant: string;
  readonly group: string;
  readonly consumer: string;
  readonly handler: StreamHandler;
  readonly settings: ResolvedStreamConsumerDefaults;
}

/**
 * What a consumer runs on, shared by the consumers of one StreamService.
 *
 * @example
 * const context: ConsumerContext = { store, serializer: core.serializer, tenants: core.tenants, reconnect: core.options.reconnect, deadLetterMaxLen, shutdownTimeoutMs, tracer: core.telemetry.tracer };
 */
export interface ConsumerContext {
  readonly store: StreamStore;
  readonly serializer: Serializer;
  readonly tenants: TenantContext;
  readonly reconnect: { readonly baseDelayMs: number; readonly maxDelayMs: number };
  readonly deadLetterMaxLen: number;
  readonly shutdownTimeoutMs: number;
  /** Spans of handler runs. */
  readonly tracer: CoordinationTracer;
}
