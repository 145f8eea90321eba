// The supported public API of @nest-coordination/core. Anything not exported here is internal.
export { CoordinationModule } from './coordination.module.js';
export type {
  CoordinationModuleOptions, CoordinationModuleAsyncOptions, CoordinationOptionsFactory, ConnectionOptions,
  ReconnectOptions, BreakerOptions, HealthOptions, TenancyOptions, SerializerModuleOptions, RedisNodeAddress,
} from './options/coordination-options.interface.js';
export { DEFAULT_COORDINATION_OPTIONS, resolveOptions } from './options/resolve-options.js';
export type { ResolvedCoordinationOptions } from './options/resolve-options.js';
export { COORDINATION_MODULE_OPTIONS, COORDINATION_RESOLVED_OPTIONS } from './core/coordination.tokens.js';
export { CoordinationCore } from './core/coordination-core.js';
export { ManualClock, systemClock } from './core/clock.js';
export type { Clock } from './core/clock.js';

export {
  CoordinationError, ErrorCode, InvalidOptionsError, InvalidArgumentError, InvalidKeyError, TenantInvalidError,
  TenantRequiredError, RedisUnavailableError, CircuitOpenError,
} from './errors/coordination.error.js';

export { KeyBuilder, escapeGlob, encodeId, assertSafeId, assertTenantId, SHARED_TENANT, MAX_ID_LENGTH } from './keys/key-builder.js';
export type { KeyOptions } from './keys/key-builder.js';
export { TenantContext } from './tenancy/tenant-context.js';
export { TenantResolver } from './tenancy/tenant-resolver.js';
export { TenantInterceptor } from './tenancy/tenant.interceptor.js';
export { TenantMiddleware } from './tenancy/tenant.middleware.js';

export { RedisConnection } from './connection/redis-connection.js';
export type { ConnectionHealth, HealthStatus, Topology, RedisClient } from './connection/redis-connection.js';
export { CircuitBreaker } from './connection/circuit-breaker.js';
export type { BreakerState } from './connection/circuit-breaker.js';
export { loadLuaScript } from './connection/lua-script.js';
export type { LuaScript } from './connection/lua-script.js';

export { CoordinationExceptionFilter, HTTP_STATUS_BY_CODE } from './http/coordination-exception.filter.js';

export { MetricsRegistry, DEFAULT_BUCKETS_MS } from './metrics/metrics-registry.js';
export type { MetricLabels, CounterSnapshot, HistogramSnapshot } from './metrics/metrics-registry.js';

export { CoordinationHealthIndicator, DEFAULT_HEALTH_CHECK_OPTIONS } from './health/coordination-health.indicator.js';
export type { CoordinationHealthCheckOptions, CoordinationHealthDetails } from './health/coordination-health.indicator.js';
export type { ClusterState, MemoryUsage } from './health/redis-info.parser.js';

export { EventBus } from './events/event-bus.js';
export { EventStream } from './events/event-stream.js';
export type { CoordinationEvent, EventOptions } from './events/event.types.js';
export { OnCoordinationEvent, COORDINATION_EVENT_HANDLER } from './events/on-coordination-event.decorator.js';
export type { EventHandlerMetadata } from './events/on-coordination-event.decorator.js';
export { EventSubscriberExplorer } from './events/event-subscriber.explorer.js';
export { assertChannelName, parseChannelPattern, MAX_CHANNEL_LENGTH } from './events/channel-name.js';

export { Serializer, DEFAULT_SERIALIZER_OPTIONS, isCompressed, SerializationError, DeserializationError } from './serialization/index.js';
export type { SerializerOptions } from './serialization/index.js';
