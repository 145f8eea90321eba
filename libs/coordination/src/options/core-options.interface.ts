import type { ExecutionContext } from '@nestjs/common';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { Cluster, Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/**
 * Where Redis is. Give exactly one of: `url`; `host`/`port` (with optional credentials);
 * `sentinels` + `sentinelName`; `cluster`; or an existing ioredis `client` (which the
 * module uses but never closes).
 */
export interface ConnectionOptions {
  url?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  /** `true` for TLS with default settings, or node:tls options. */
  tls?: boolean | Record<string, unknown>;
  sentinels?: RedisNodeAddress[];
  sentinelName?: string;
  cluster?: RedisNodeAddress[];
  client?: Redis | Cluster;
  /** Give up on a connection attempt after this long. Default 10_000. */
  connectTimeoutMs?: number;
  /** Fail a command that has no reply after this long (not applied to blocking reads). Default 5_000. */
  commandTimeoutMs?: number;
}

export interface ReconnectOptions {
  /** First retry delay; doubles per attempt. Default 100. */
  baseDelayMs?: number;
  /** Cap on the retry delay. Default 5_000. */
  maxDelayMs?: number;
}

export interface BreakerOptions {
  /** Consecutive failed operations that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long the breaker stays open before a half-open probe. Default 5_000. */
  openMs?: number;
}

export interface HealthOptions {
  /** Interval of the background PING. Default 5_000; 0 disables it. */
  pingIntervalMs?: number;
  /** PING latency above which health is `degraded`. Default 250. */
  degradedLatencyMs?: number;
}

/**
 * Metrics and traces through `@opentelemetry/api`: a no-op until the application registers an
 * OpenTelemetry SDK (or passes its own providers here).
 *
 * @example
 * CoordinationModule.forRoot({ connection: { url }, telemetry: { hashKeys: true, tenantAttribute: ['acme', 'globex'] } });
 */
export interface TelemetryOptions {
  /** The MeterProvider the library's instruments are created on. Default: the global one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** The TracerProvider of the library's spans. Default: the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Export the library's metrics through OpenTelemetry. Default true. */
  metrics?: boolean;
  /** A span per coordination operation (`lock.acquire`, `ratelimit.consume`, ...). Default true. */
  traces?: boolean;
  /** Span attributes carry a SHA-256 digest of each key (16 hex digits) instead of the key. Default false. */
  hashKeys?: boolean;
  /**
   * Which tenants metrics carry as their `tenant` attribute: `'all'` (at most `maxTenantValues`
   * of them; later ones are exported as `_other`), `'none'` (the attribute is dropped and series
   * are summed), or a list of tenants (others are exported as `_other`). Default `'all'`.
   */
  tenantAttribute?: 'all' | 'none' | readonly string[];
  /** With `tenantAttribute: 'all'`: distinct tenant values per process before later ones become `_other`. Default 100. */
  maxTenantValues?: number;
}

export interface TenancyOptions {
  /** Reject operations and requests without a tenant (HTTP 400). Default false. */
  required?: boolean;
  /** Request header carrying the tenant id. Default `x-tenant-id`. Ignored when `userProperty` or `resolver` is set. */
  header?: string;
  /** Property path on `request.user` holding the tenant id, e.g. `companyId`; the header is then not consulted. */
  userProperty?: string;
  /** Custom resolver; wins over `header` and `userProperty`. */
  resolver?: (request: unknown) => string | undefined | Promise<string | undefined>;
  /**
   * The tenant of a GraphQL resolver, a WebSocket message handler or a microservice message
   * handler, one resolver per context type, each replacing that type's default (README "GraphQL,
   * WebSockets and microservices"):
   * - `graphql(graphqlContext, context)`: default, the HTTP request behind the operation
   *   (`graphqlContext.req`) read like any HTTP request (`resolver`, `userProperty` or `header`);
   * - `ws(client, context)`: default, the socket's handshake request read the same way
   *   (`client.request`: its `header`, or the user an engine middleware set), else, in `header`
   *   mode, `client.handshake.auth.tenantId`;
   * - `rpc(data, context)`: default, the payload's `tenantId` property.
   *
   * `context` is the handler's ExecutionContext. A resolver may return a promise.
   *
   * @example
   * tenancy: { resolvers: { ws: (client: Socket) => client.data.user?.companyId, rpc: (data: { companyId?: string }) => data.companyId } }
   */
  resolvers?: ContextTenantResolvers;
}

/**
 * `tenancy.resolvers`: how GraphQL resolvers, WebSocket message handlers and microservice handlers find their tenant.
 *
 * @example
 * const resolvers: ContextTenantResolvers = { ws: (client: Socket) => client.data.user?.companyId };
 */
export interface ContextTenantResolvers {
  // Methods, not function properties: their parameters are checked bivariantly, so a resolver
  // may name the type it gets, `(client: Socket) => ...`.
  /** The tenant of a GraphQL operation, from its GraphQL context (`{ req }` by default). */
  graphql?(graphqlContext: unknown, context: ExecutionContext): ContextTenant;
  /** The tenant of a WebSocket message, from the socket (a socket.io `Socket`). */
  ws?(client: unknown, context: ExecutionContext): ContextTenant;
  /** The tenant of a microservice message, from its payload. */
  rpc?(data: unknown, context: ExecutionContext): ContextTenant;
}

/**
 * What a context's tenant resolver returns: the tenant id, or undefined (or null) when the context names none.
 *
 * @example
 * const rpc = async (data: { orderId: string }): Promise<string | undefined> => (await orders.find(data.orderId))?.tenantId;
 */
export type ContextTenant = string | undefined | null | Promise<string | undefined | null>;

export interface SerializerModuleOptions {
  /** Values whose encoded size reaches this many bytes are compressed. Default 1024. */
  compressThresholdBytes?: number;
  /**
   * How deep objects may nest in what is stored or published (the value itself at depth 0):
   * deeper ones are refused with `SerializationError` when encoded and `DeserializationError`
   * when decoded. An event's envelope adds one level: its payload sits at depth 1. 1 to 1000
   * (the default; a larger limit would let a hostile value overflow the stack).
   *
   * @example
   * CoordinationModule.forRoot({ connection: { url }, serializer: { maxDepth: 32 } });
   */
  maxDepth?: number;
}

/**
 * The options every capability shares (connection, keys, tenancy, failure handling). Each
 * capability adds its own section (see `CoordinationModuleOptions`). Every field is optional.
 */
export interface CoreModuleOptions {
  /** `redis` or the embedded `memory` driver. Default: `memory` when no `connection` is given. */
  driver?: 'redis' | 'memory';
  connection?: ConnectionOptions;
  /** First segment of every key and channel. Default `coord`. */
  prefix?: string;
  /** Identifies this instance in events and lock ownership. Default: hostname-pid-random. */
  instanceId?: string;
  /** Register the module globally. Default true. */
  isGlobal?: boolean;
  tenancy?: TenancyOptions;
  reconnect?: ReconnectOptions;
  breaker?: BreakerOptions;
  health?: HealthOptions;
  serializer?: SerializerModuleOptions;
  telemetry?: TelemetryOptions;
  /** Time source for the memory driver and policy code; tests inject a `ManualClock`. When set, Redis rate-limit scripts use it too instead of the server's TIME. */
  clock?: Clock;
}
