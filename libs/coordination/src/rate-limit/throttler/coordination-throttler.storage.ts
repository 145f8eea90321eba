import { createHash } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { CoordinationCore } from '../../core/coordination-core.js';
import { InvalidArgumentError, RedisUnavailableError } from '../../errors/coordination.error.js';
import { asBadRequest } from '../../http/as-bad-request.js';
import { CoordinationHttpException } from '../../http/coordination-http.exception.js';
import { keyTail, type KeyTail } from '../../keys/key-builder.js';
import type { CounterHandle } from '../../metrics/metrics-registry.js';
import { MAX_ATTRIBUTE_VALUES, OTHER_VALUE } from '../../telemetry/tenant-attributes.js';
import { FleetHeartbeat } from '../fleet-heartbeat.js';
import { RATE_LIMIT_OPTIONS, type ResolvedRateLimitOptions } from '../rate-limit.options.js';
import { MemoryThrottlerStore } from './memory-throttler.store.js';
import { RedisThrottlerStore } from './redis-throttler.store.js';
import { THROTTLER_OPERATION, ThrottlerDecider } from './throttler-decider.js';
import { THROTTLER_INCREMENT } from './throttler.spans.js';
import type { CoordinationThrottlerRecord } from './throttler.types.js';

/** The rate limits' key segment: throttler counters live beside RateLimitService's. */
const CAPABILITY = 'rl';
/** The counter's segment after the hash tag, as an algorithm's is (`sw`, `fw`, ...). */
const SEGMENT = 'thr';
/** Keys longer than this are hashed (SHA-256), as RateLimitGuard hashes long trackers. */
const MAX_KEY_LENGTH = 128;
/** Windows and blocks above 400 days are almost certainly a unit mistake (seconds × 1000 twice). */
const MAX_DURATION_MS = 400 * 24 * 3_600_000;
/** Throttler names whose key tails are kept (they come from configuration: a handful). */
const MAX_TAILS = 1_000;

type Outcome = 'allowed' | 'blocked';
type Source = CoordinationThrottlerRecord['source'] | 'fail-closed';
/** The `ratelimit_throttler_hits_total` series of one throttler label, bound at their first hit. */
type ThrottlerSeries = { readonly throttler: string } & Record<Outcome, Partial<Record<Source, CounterHandle>>>;

/**
 * A @nestjs/throttler `ThrottlerStorage` on this library's rate-limit machinery: every hit is one
 * atomic Lua script on the Redis clock, counted under the current tenant
 * (`<prefix>:<tenant>:rl:{<key>}:thr:<throttler>`), with the rate limits' outage policy
 * (`rateLimit.onRedisUnavailable`, `rateLimit.timeoutMs`: this instance's fleet share of each
 * limit, or a 503) and their metrics. It decides as @nestjs/throttler 6's in-memory storage
 * does: each hit lives `ttl` ms; with a `blockDuration` the hit past the limit is counted and
 * blocks the key that long, after which the count starts afresh; without one (0) hits at the
 * limit are refused until the oldest expires. On the memory driver it counts in process.
 *
 * Provided by `CoordinationThrottlerModule`; `withCoordinationStorage()` wires it into
 * `ThrottlerModule.forRootAsync()` in one line. The tenant is the request's, as
 * `TenantMiddleware` (applied by CoordinationModule to every route) set it; without one, the
 * shared namespace, unless `tenancy.required`, which answers 400.
 *
 * @example
 * ThrottlerModule.forRootAsync(withCoordinationStorage({ throttlers: [{ ttl: 60_000, limit: 10 }] }))
 *
 * @example
 * ThrottlerModule.forRootAsync({
 *   imports: [CoordinationThrottlerModule],
 *   inject: [CoordinationThrottlerStorage, ConfigService],
 *   useFactory: (storage: CoordinationThrottlerStorage, config: ConfigService) => ({
 *     throttlers: [{ ttl: config.get('THROTTLE_TTL'), limit: config.get('THROTTLE_LIMIT') }],
 *     storage,
 *   }),
 * })
 */
@Injectable()
export class CoordinationThrottlerStorage implements ThrottlerStorage, OnModuleInit, BeforeApplicationShutdown {
  private readonly decider?: ThrottlerDecider;
  private readonly memory?: MemoryThrottlerStore;
  private readonly fleet?: FleetHeartbeat;
  private readonly tails = new Map<string, KeyTail>();
  private readonly series = new Map<string, ThrottlerSeries>();

  constructor(private readonly core: CoordinationCore, @Inject(RATE_LIMIT_OPTIONS) options: ResolvedRateLimitOptions) {
    const connection = core.connection;
    if (connection === null) {
      this.memory = new MemoryThrottlerStore(core.clock);
      return;
    }
    // The fleet that sizes the local fallback: the rate limits' heartbeat (same instance id, same entry).
    if (options.heartbeatIntervalMs > 0) {
      this.fleet = new FleetHeartbeat(connection, core.keys, core.instanceId, options.heartbeatIntervalMs, core.metrics);
    }
    // The scripts read TIME unless the application configured a clock (a ManualClock in tests).
    const clock = core.options.raw.clock !== undefined ? core.clock : undefined;
    this.decider = new ThrottlerDecider(core, options, new RedisThrottlerStore(connection, clock), this.fleet);
  }

  onModuleInit(): void {
    this.fleet?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.decider?.close();
    await this.fleet?.stop();
  }

  /**
   * Instances sharing this module's prefix (this one included) alive at this instance's last
   * heartbeat, as `RateLimitService.liveInstances`: while Redis is unreachable each throttler
   * limit is cut to `ceil(limit / liveInstances)` here. 1 on the memory driver, with the
   * heartbeat off, and until the first heartbeat after this instance's first hit.
   *
   * @example
   * logger.log(`throttler limits shared by ${storage.liveInstances} instance(s)`);
   */
  get liveInstances(): number {
    return this.fleet?.liveInstances ?? 1;
  }

  /**
   * Counts a hit of `key` under throttler `throttlerName` (what ThrottlerGuard calls once per
   * throttler and request). `ttl` and `blockDuration` are ms (fractions rounded up); a
   * `blockDuration` of 0 or less means none.
   *
   * @throws InvalidArgumentError naming the bad argument, before any Redis call
   * @throws CoordinationBadRequestException (400) when `tenancy.required` and the request has no tenant
   * @throws CoordinationHttpException (503, carrying RedisUnavailableError) while Redis is
   *   unreachable under `rateLimit.onRedisUnavailable: 'fail-closed'`
   *
   * @example
   * const { totalHits, isBlocked } = await storage.increment('user:42', 60_000, 10, 60_000, 'default');
   */
  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<CoordinationThrottlerRecord> {
    if (typeof key !== 'string') throw new InvalidArgumentError('key', 'must be a string', key);
    if (typeof throttlerName !== 'string') throw new InvalidArgumentError('throttlerName', 'must be a string', throttlerName);
    const ttlMs = duration(ttl, 'ttl', false);
    const blockMs = duration(blockDuration, 'blockDuration', true);
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) {
      throw new InvalidArgumentError('limit', 'must be a finite number, 0 or more', limit);
    }
    let tenant: string;
    try {
      tenant = this.core.tenants.resolve(undefined, THROTTLER_OPERATION);
    } catch (error) {
      throw asBadRequest(error);
    }
    const counter = this.core.keys.key(tenant, CAPABILITY, key.length > MAX_KEY_LENGTH ? hashed(key) : key, this.tailOf(throttlerName));
    let record: CoordinationThrottlerRecord;
    try {
      const tracer = this.core.telemetry.tracer;
      // Without spans to make (no SDK, or traces off), no callback to allocate either.
      record = await (tracer.enabled
        ? tracer.trace(THROTTLER_INCREMENT, tenant, key, () => this.decide(counter, ttlMs, limit, blockMs), throttlerName)
        : this.decide(counter, ttlMs, limit, blockMs));
    } catch (error) {
      if (isFailClosed(error)) this.count(throttlerName, 'blocked', 'fail-closed');
      throw error;
    }
    this.count(throttlerName, record.isBlocked ? 'blocked' : 'allowed', record.source);
    return record;
  }

  private decide(counter: string, ttl: number, limit: number, block: number): Promise<CoordinationThrottlerRecord> {
    return this.decider !== undefined ? this.decider.decide(counter, ttl, limit, block) : this.memory!.increment(counter, ttl, limit, block);
  }

  /** `:thr:<throttler name>`, encoded once per name. */
  private tailOf(name: string): KeyTail {
    let tail = this.tails.get(name);
    if (tail === undefined) {
      if (this.tails.size >= MAX_TAILS) this.tails.clear();
      this.tails.set(name, (tail = keyTail({ suffix: SEGMENT, parts: [name] })));
    }
    return tail;
  }

  /** Counts one hit in `ratelimit_throttler_hits_total`; names past MAX_ATTRIBUTE_VALUES count as `_other`. */
  private count(name: string, outcome: Outcome, source: Source): void {
    let series = this.series.get(name);
    if (series === undefined) {
      const throttler = this.series.size < MAX_ATTRIBUTE_VALUES ? name : OTHER_VALUE;
      series = this.series.get(throttler);
      if (series === undefined) this.series.set(throttler, (series = { throttler, allowed: {}, blocked: {} }));
    }
    (series[outcome][source] ??= this.core.metrics.counterOf('ratelimit_throttler_hits_total', { throttler: series.throttler, outcome, source })).add();
  }
}

/** A ttl or block duration in whole ms (fractions rounded up); a block of 0 or less means none. */
function duration(value: unknown, argument: string, orNone: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(argument, 'must be a finite number of ms', value);
  if (value > MAX_DURATION_MS) throw new InvalidArgumentError(argument, `must be at most ${MAX_DURATION_MS} ms (400 days)`, value);
  if (value <= 0) {
    if (orNone) return 0;
    throw new InvalidArgumentError(argument, 'must be greater than 0', value);
  }
  return Math.ceil(value);
}

function hashed(key: string): string {
  return `h:${createHash('sha256').update(key).digest('base64url')}`;
}

/** The 503 of `onRedisUnavailable: 'fail-closed'`. */
function isFailClosed(error: unknown): boolean {
  return error instanceof CoordinationHttpException && error.error instanceof RedisUnavailableError;
}
