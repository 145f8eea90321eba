// The supported public API of @nest-coordination/core. Anything not exported here is internal.
export { CoordinationModule } from './coordination.module.js';
export type { CoordinationModuleOptions, CoordinationModuleAsyncOptions, CoordinationOptionsFactory } from './coordination-options.js';
export type {
  CoreModuleOptions, ConnectionOptions, ReconnectOptions, BreakerOptions, HealthOptions, TenancyOptions, SerializerModuleOptions, RedisNodeAddress,
} from './options/core-options.interface.js';
export { DEFAULT_COORDINATION_OPTIONS } from './options/resolve-options.js';
export { resolveModuleOptions } from './coordination-options.js';
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
export { TenantOptional, TENANT_OPTIONAL } from './tenancy/tenant-optional.decorator.js';

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
export { OnCoordinationEvent } from './events/on-coordination-event.decorator.js';
export { assertChannelName, parseChannelPattern, MAX_CHANNEL_LENGTH } from './events/channel-name.js';

export { Serializer, DEFAULT_SERIALIZER_OPTIONS, isCompressed, SerializationError, DeserializationError } from './serialization/index.js';
export type { SerializerOptions } from './serialization/index.js';

// Rate limits
export { RateLimitService, TENANT_PARTITION } from './rate-limit/rate-limit.service.js';
export { RateLimitGuard } from './rate-limit/rate-limit.guard.js';
export { RateLimit, SkipRateLimit, RATE_LIMIT_METADATA, SKIP_RATE_LIMIT_METADATA } from './rate-limit/rate-limit.decorator.js';
export type { RateLimitRule, RateLimitScope, RateLimitMetadata } from './rate-limit/rate-limit.decorator.js';
export { RateLimitedError } from './rate-limit/rate-limit.errors.js';
export { RATE_LIMIT_STORE } from './rate-limit/rate-limit.store.js';
export type { RateLimitStore, StoreReply } from './rate-limit/rate-limit.store.js';
export { RedisRateLimitStore } from './rate-limit/redis-rate-limit.store.js';
export { MemoryRateLimitStore } from './rate-limit/memory-rate-limit.store.js';
export { normalizePolicy } from './rate-limit/rate-limit-policy.js';
export type { NormalizedPolicy } from './rate-limit/rate-limit-policy.js';
export { policyHeader, rateLimitHeader, legacyHeaders } from './rate-limit/rate-limit-headers.js';
export { DEFAULT_RATE_LIMIT_OPTIONS } from './rate-limit/rate-limit.options.js';
export type { RateLimitModuleOptions } from './rate-limit/rate-limit.options.js';
export { RATE_LIMIT_ALGORITHMS } from './rate-limit/rate-limit.types.js';
export type {
  RateLimitAlgorithm, RateLimitPolicy, RateLimitCallOptions, ConsumeOptions, ConsumeManyOptions, RateLimitSource, RateLimitResult,
  RateLimitCheck, RateLimitDecision, RateLimitViolation, ViolationQuery, RateLimitAlert,
} from './rate-limit/rate-limit.types.js';

export { LockService } from './locks/lock.service.js';
export { Lock } from './locks/lock.js';
export type { LockOperations } from './locks/lock.js';
export { LockTimeoutError, LockLostError, LockAbortedError, DeadlockError } from './locks/lock.errors.js';
export { WithLock, resolveLockKey, WITH_LOCK_METADATA } from './locks/with-lock.decorator.js';
export type { LockKeySource, WithLockMetadata } from './locks/with-lock.decorator.js';
export { LOCK_STORE } from './locks/lock-store.interface.js';
export type { LockStore, MutexKeys, SemaphoreKeys, ReadWriteKeys } from './locks/lock-store.interface.js';
export { RedisLockStore } from './locks/redis-lock.store.js';
export { MemoryLockStore } from './locks/memory-lock.store.js';
export { LockKeys } from './locks/lock-keys.js';
export { DEFAULT_LOCK_OPTIONS } from './locks/lock.options.js';
export type { LockModuleOptions } from './locks/lock.options.js';
export type { AcquireOptions, PermitOptions, ReadWriteOptions, HeldLockInfo, LockKind } from './locks/lock.types.js';
