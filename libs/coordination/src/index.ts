// The supported public API of @nest-coordination/core. Anything not exported here is internal
// (stores, scripts, the connection, key helpers): it may change in any release.
// What an application's own tests need is in '@nest-coordination/core/testing'.

// The module and its options
export { CoordinationModule } from './coordination.module.js';
export type { CoordinationModuleOptions, CoordinationModuleAsyncOptions, CoordinationOptionsFactory } from './coordination-options.js';
export type {
  CoreModuleOptions, ConnectionOptions, ReconnectOptions, BreakerOptions, HealthOptions, TenancyOptions, SerializerModuleOptions, RedisNodeAddress, TelemetryOptions,
  ContextTenantResolvers, ContextTenant,
} from './options/core-options.interface.js';
export { DEFAULT_COORDINATION_OPTIONS } from './options/resolve-options.js';
export { ManualClock, systemClock } from './core/clock.js';
// The shared parts of one module instance (options, tenant context, metrics); a constructor
// argument of RateLimitGuard, so subclasses with their own constructor can pass it on.
export { CoordinationCore } from './core/coordination-core.js';
export type { Clock } from './core/clock.js';

// Errors (each with a stable `code`) and their HTTP mapping
export {
  CoordinationError, ErrorCode, InvalidOptionsError, InvalidArgumentError, InvalidKeyError, TenantInvalidError,
  TenantRequiredError, RedisUnavailableError, CircuitOpenError,
} from './errors/coordination.error.js';
export { SerializationError, DeserializationError } from './serialization/serialization.errors.js';
export { CoordinationExceptionFilter, HTTP_STATUS_BY_CODE } from './http/coordination-exception.filter.js';
// What the library throws before a handler runs (SessionGuard, tenant resolution): catchable in an app's own filters.
export { CoordinationHttpException } from './http/coordination-http.exception.js';
export { CoordinationBadRequestException } from './http/as-bad-request.js';
export { MAX_ID_LENGTH } from './keys/key-builder.js';

// Tenancy
export { TenantResolver } from './tenancy/tenant-resolver.js';
export { TenantOptional } from './tenancy/tenant-optional.decorator.js';

// GraphQL resolvers, WebSocket gateways and microservice handlers: their refusals as each
// context's error (the WebSocket and microservice modules are at '@nest-coordination/core/websockets'
// and '@nest-coordination/core/microservices', so that the core loads neither package)
export { ContextExceptions } from './contexts/context-exceptions.js';
export { CoordinationGraphQLException } from './contexts/context-errors.js';
export type { ContextErrorBody } from './contexts/context-errors.js';
export type { ContextRequest, ContextResponse, ContextRequestResponse } from './contexts/context-requests.js';

// Health
export { CoordinationHealthIndicator, DEFAULT_HEALTH_CHECK_OPTIONS } from './health/coordination-health.indicator.js';
export type { CoordinationHealthCheckOptions, CoordinationHealthDetailLevel, CoordinationHealthDetails } from './health/coordination-health.indicator.js';
export type { ClusterState, MemoryUsage } from './health/redis-info.parser.js';
export type { ConnectionHealth, HealthStatus } from './connection/connection-health.tracker.js';
export type { Topology } from './connection/redis-client.factory.js';
export type { BreakerState } from './connection/circuit-breaker.js';

// Events
export { EventBus } from './events/event-bus.js';
export { EventStream } from './events/event-stream.js';
export type { CoordinationEvent, EventOptions } from './events/event.types.js';
export { OnCoordinationEvent } from './events/on-coordination-event.decorator.js';
export { MAX_CHANNEL_LENGTH } from './events/channel-name.js';

// Rate limits
export { RateLimitService, TENANT_PARTITION } from './rate-limit/rate-limit.service.js';
export { RateLimitGuard } from './rate-limit/rate-limit.guard.js';
export { RateLimit, SkipRateLimit } from './rate-limit/rate-limit.decorator.js';
export type { RateLimitRule, RateLimitScope, RateLimitMetadata } from './rate-limit/rate-limit.decorator.js';
export { RateLimitedError } from './rate-limit/rate-limit.errors.js';
export { DEFAULT_RATE_LIMIT_OPTIONS } from './rate-limit/rate-limit.options.js';
export type { RateLimitModuleOptions } from './rate-limit/rate-limit.options.js';
export { RATE_LIMIT_ALGORITHMS } from './rate-limit/rate-limit.types.js';
export type {
  RateLimitAlgorithm, RateLimitPolicy, RateLimitCallOptions, ConsumeOptions, ConsumeManyOptions, RateLimitSource, RateLimitResult,
  RateLimitCheck, RateLimitDecision, RateLimitViolation, ViolationQuery, RateLimitAlert,
} from './rate-limit/rate-limit.types.js';

// Distributed locks
export { LockService } from './locks/lock.service.js';
export { Lock } from './locks/lock.js';
export { LockTimeoutError, LockLostError, LockAbortedError, DeadlockError, LockShutdownError } from './locks/lock.errors.js';
export { WithLock } from './locks/with-lock.decorator.js';
export type { LockKeySource } from './locks/with-lock.decorator.js';
export { DEFAULT_LOCK_OPTIONS } from './locks/lock.options.js';
export type { LockEventsMode, LockModuleOptions } from './locks/lock.options.js';
export type { AcquireOptions, PermitOptions, ReadWriteOptions, HeldLockInfo, LockInspection, LockKind } from './locks/lock.types.js';

// Cache
export { CacheService } from './cache/cache.service.js';
export { DEFAULT_CACHE_OPTIONS, MAX_CACHE_TTL_MS } from './cache/cache.options.js';
export type { CacheModuleOptions, CacheL1ModuleOptions } from './cache/cache.options.js';
export type { CacheCallOptions, CacheGetOptions, CacheSetOptions, GetOrSetOptions, GetOrSetStateOptions, CacheEntryInput, CacheLookup, CacheStats } from './cache/cache.types.js';

// Cache: decorators, the HTTP interceptor, the Keyv adapter for @nestjs/cache-manager
export { Cacheable, CachePut } from './cache/cacheable.decorator.js';
export type { CacheableOptions, CachePutOptions } from './cache/cacheable.decorator.js';
export { CacheEvict } from './cache/cache-evict.decorator.js';
export type { CacheEvictOptions } from './cache/cache-evict.decorator.js';
export { CacheInterceptor } from './cache/cache.interceptor.js';
export type { XCache } from './cache/cache.interceptor.js';
export { CacheResponse } from './cache/cache-response.decorator.js';
export type { CacheResponseOptions } from './cache/cache-response.decorator.js';
export { CoordinationKeyvStore } from './cache/keyv-store.adapter.js';
export type { CoordinationKeyvStoreOptions, KeyvStoreEntry } from './cache/keyv-store.adapter.js';
export type { KeyTemplate, KeyTemplates } from './core/key-template.js';

// Embedding cache (part of the cache capability)
export { EmbeddingCache } from './cache/embedding-cache.js';
export { MAX_EMBEDDING_DIMENSIONS, MAX_MODEL_LENGTH } from './cache/embedding-vector.js';
export type { EmbeddingVector, EmbeddingReadOptions, EmbeddingStoreOptions, EmbeddingItem, EmbeddingCacheStats } from './cache/embedding-cache.types.js';

// Sessions
export { SessionService } from './sessions/session.service.js';
export { SessionNotFoundError, SessionRequiredError, SessionVersionConflictError, SessionLimitError } from './sessions/session.errors.js';
export { DEFAULT_SESSION_OPTIONS, MAX_SESSION_TTL_MS } from './sessions/session.options.js';
export { MAX_SESSIONS_PER_USER } from './sessions/session-limits.js';
export type { SessionModuleOptions, SessionCookieModuleOptions } from './sessions/session.options.js';
export type {
  Session, SessionSummary, SessionCallOptions, CreateSessionOptions, GetSessionOptions, UpdateSessionOptions, ExtendSessionOptions,
  DestroyAllOptions, ExportSessionsOptions, ImportSessionsOptions, ImportSessionsResult, SessionCreatedEvent, SessionEndedEvent,
} from './sessions/session.types.js';

// Sessions: the guard, @CurrentSession(), the cookie, and the records behind the express-session
// store (the Store itself is at '@nest-coordination/core/express-session')
export { SessionGuard } from './sessions/session.guard.js';
// For subclasses of SessionGuard with a constructor of their own: the options token and what the guard reads.
export { SESSION_OPTIONS } from './sessions/session.options.js';
export type { ResolvedSessionOptions, ResolvedSessionCookieOptions } from './sessions/session.options.js';
export type { SessionToken } from './sessions/session-token.js';
export type { SessionRequest } from './sessions/session.guard.js';
export { CurrentSession } from './sessions/current-session.decorator.js';
export { SessionCookies } from './sessions/session-cookies.js';
export type { CookieRequestLike, CookieResponseLike, SessionCookieValue } from './sessions/session-cookies.js';
export { SessionRecords } from './sessions/session-records.js';
export type { SessionRecordCallOptions, SessionRecordWriteOptions } from './sessions/session-records.js';

// Durable event streams
export { StreamService } from './streams/stream.service.js';
export { StreamConsumer } from './streams/stream-consumer.decorator.js';
export type { StreamConsumerOptions } from './streams/stream-consumer.decorator.js';
export { defineStream, CREW_EVENTS, SYSTEM_EVENTS, METRICS_EVENTS } from './streams/stream-definitions.js';
export { DeadLetterNotFoundError, StreamShutdownError } from './streams/stream.errors.js';
export { DEFAULT_STREAM_OPTIONS, MAX_READ_COUNT, MAX_STREAM_LENGTH } from './streams/stream.options.js';
export type { StreamModuleOptions, StreamConsumerDefaults } from './streams/stream.options.js';
export { MAX_GROUP_NAME_LENGTH } from './streams/stream-validation.js';
// `ConsumeOptions` is the rate-limit type's name: the stream one is exported as StreamConsumeOptions.
export type {
  StreamDefinition, StreamRef, EntryOf, AppendOptions, ReadOptions, StreamEntry, StreamHandler, ConsumeOptions as StreamConsumeOptions,
  StreamSubscription, PendingSummary, StreamGroupInfo, DeadLetterReadOptions, DeadLetter, ReplayResult, CrewStreamEvent, SystemStreamEvent,
  MetricsStreamEvent,
} from './streams/stream.types.js';

// Task queue (BullMQ on the redis driver)
export { TaskService } from './tasks/task.service.js';
export { TaskHandler } from './tasks/task-handler.decorator.js';
export { defineTask } from './tasks/task-definitions.js';
export { TaskNotFoundError, TaskShutdownError, TaskStateError, TaskTimeoutError, UnrecoverableTaskError } from './tasks/task.errors.js';
export { DEFAULT_TASK_OPTIONS, TASK_LIMITS } from './tasks/task.options.js';
export type { TaskModuleOptions } from './tasks/task.options.js';
export { PRIORITY_MIN as TASK_PRIORITY_MIN, PRIORITY_MAX as TASK_PRIORITY_MAX } from './tasks/task-priority.js';
export type {
  TaskDefinition, TaskRef, TaskId, PayloadOf, ResultOf, TaskState, TaskBackoff, TaskOptions, EnqueueOptions, TaskItem, TaskInfo, TaskContext,
  TaskHandlerOptions, TaskPageOptions, WaitForOptions, TaskTenantOption,
} from './tasks/task.types.js';

// Idempotency (the Idempotency-Key header, and keys of your own)
export { IdempotencyService } from './idempotency/idempotency.service.js';
export { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
export { Idempotent } from './idempotency/idempotent.decorator.js';
export { IdempotencyInFlightError, IdempotencyKeyInvalidError, IdempotencyKeyRequiredError, IdempotencyMismatchError } from './idempotency/idempotency.errors.js';
export { DEFAULT_IDEMPOTENCY_OPTIONS, IDEMPOTENCY_LIMITS } from './idempotency/idempotency.options.js';
export type { IdempotencyModuleOptions } from './idempotency/idempotency.options.js';
export type {
  IdempotencyScope, ConcurrentDuplicates, IdempotencyRunOptions, IdempotentOptions, IdempotencyClaim, StoredHttpResponse,
} from './idempotency/idempotency.types.js';

// Leader election and once-per-fleet jobs
export { LeaderService } from './leader/leader.service.js';
export { SingletonJob } from './leader/singleton-job.decorator.js';
export { LeaderLostError, LeaderShutdownError } from './leader/leader.errors.js';
export type { LeaderCampaign } from './leader/leader-campaign.js';
export { DEFAULT_LEADER_OPTIONS, LEADER_LIMITS } from './leader/leader.options.js';
export type { LeaderModuleOptions } from './leader/leader.options.js';
export type {
  CampaignOptions, RoleOptions, LeadershipTerm, LeadershipChange, LeadershipLossReason, LeaderInfo, LeaderElectedEvent, LeaderLostEvent,
  SingletonJobOptions, JobTick,
} from './leader/leader.types.js';

// Metrics: what the library exports through OpenTelemetry, by name, kind, unit and attributes (README "Metrics")
export { METRIC_CATALOG } from './telemetry/metric-catalog.js';
export type { GaugeAggregation, MetricDefinition, MetricKind } from './telemetry/metric-catalog.js';
