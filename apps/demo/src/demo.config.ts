import type { CoordinationModuleOptions } from '@nest-coordination/core';

/** Request header that carries the company (tenant) id. */
export const COMPANY_HEADER = 'x-company-id';

/** Request header that names the calling user (the demo's stand-in for real authentication). */
export const USER_HEADER = 'x-user-id';

/** Limits of `GET /crews/events/stream`, the SSE stream of a company's crew events. */
export interface StreamsConfig {
  /**
   * Open streams one user may hold on one instance; the next gets 429. Each stream costs the
   * instance a subscription, and writing every event once more: one user must not stall it.
   */
  maxPerUser: number;
  /** A comment (`: heartbeat`) is sent this often, so proxies keep an idle stream open. */
  heartbeatMs: number;
  /**
   * Quota of one user posting crew events (`POST /crews/:crewId/events`), a token bucket: `burst`
   * at once, refilled at `limit` per `windowMs`. Every event is written to every open stream of
   * the company, so one user must not flood them.
   */
  publishQuota: { limit: number; windowMs: number; burst: number };
}

/**
 * Where the demo keeps its crews, its stand-in for a database (`CrewStore`): in Redis when
 * `redisUrl` is set, so that every instance reads the edits of every other; in the process's
 * memory otherwise (one instance).
 */
export interface StoreConfig {
  redisUrl?: string;
  /** First segment of the store's keys: `<keyPrefix>:crews:<companyId>`. */
  keyPrefix: string;
}

/** Everything the demo needs to boot; built from the environment by `demoConfigFromEnv`. */
export interface DemoConfig {
  coordination: CoordinationModuleOptions;
  streams: StreamsConfig;
  store: StoreConfig;
}

export const DEFAULT_STREAMS_CONFIG: StreamsConfig = { maxPerUser: 5, heartbeatMs: 15_000, publishQuota: { limit: 10, windowMs: 1_000, burst: 20 } };

/**
 * TTL of a crew run's lock. It renews itself while the run works (`locks.autoRenew`), so this
 * only bounds how long a crew stays locked after its instance died.
 */
export const CREW_RUN_LOCK_TTL_MS = 10_000;

/**
 * Reads the demo's configuration from environment variables:
 * - `REDIS_URL`: Redis to coordinate through; unset means the in-memory driver.
 * - `COORD_KEY_PREFIX`: first segment of every key and channel (default `demo`).
 *
 * Tenancy is `required`: a request without a company is rejected with 400, except on
 * routes marked `@TenantOptional()` such as `/health`, which load balancers call without
 * one. `DemoAuthGuard` additionally turns a user outside that company into a 403.
 *
 * Locks (crew runs) default to a TTL of `CREW_RUN_LOCK_TTL_MS`, renewed while held; event
 * streams get `DEFAULT_STREAMS_CONFIG`. Tests change either on the returned object. The crews
 * (the demo's database stand-in) live in the same Redis, under `<COORD_KEY_PREFIX>-db`, or in
 * memory without `REDIS_URL`.
 *
 * @example
 * const app = await NestFactory.create(AppModule.register(demoConfigFromEnv(process.env)));
 */
export function demoConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const url = env.REDIS_URL?.trim();
  const prefix = env.COORD_KEY_PREFIX?.trim() || 'demo';
  return {
    coordination: {
      ...(url ? { connection: { url } } : { driver: 'memory' as const }),
      prefix,
      tenancy: { header: COMPANY_HEADER, required: true },
      locks: { defaultTtlMs: CREW_RUN_LOCK_TTL_MS },
    },
    streams: { ...DEFAULT_STREAMS_CONFIG },
    store: { ...(url ? { redisUrl: url } : {}), keyPrefix: `${prefix}-db` },
  };
}
