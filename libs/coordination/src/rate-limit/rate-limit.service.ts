import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { LibraryEventEmitter } from '../events/library-event-emitter.js';
import { SHARED_TENANT, assertSafeId } from '../keys/key-builder.js';
import { FleetHeartbeat } from './fleet-heartbeat.js';
import { RateLimitDecider } from './rate-limit-decider.js';
import { checkObject } from '../errors/check-object.js';
import { normalizeCost, normalizePolicy, sinceOf, type NormalizedPolicy } from './rate-limit-policy.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit-store.interface.js';
import { RATE_LIMIT_OPTIONS, type ResolvedRateLimitOptions } from './rate-limit.options.js';
import { RateLimitedError } from './rate-limit.errors.js';
import { RATELIMIT_CONSUME, RATELIMIT_CONSUME_MANY, RATELIMIT_PEEK, RATELIMIT_RESET } from './rate-limit.spans.js';
import type {
  ConsumeManyOptions, ConsumeOptions, RateLimitCheck, RateLimitDecision, RateLimitPolicy, RateLimitResult, RateLimitViolation,
  ViolationQuery,
} from './rate-limit.types.js';
import { ViolationRecorder } from './violation-recorder.js';
import { VIOLATION_STORE, type ViolationStore } from './violation-store.interface.js';

/**
 * Counter keys (documented in the README's "Rate limits" section), short on the wire since every
 * check sends one per policy: `<prefix>:<tenant>:rl:{<key>}:<algorithm>:<policy name>`; in a
 * partition `<prefix>:<tenant>:rl:{<partition>}:<algorithm>:<policy name>:<key>`. The part after the
 * hash tag is the policy's keyTail (ALGORITHM_SEGMENT in rate-limit-policy.ts names the algorithm).
 */
const CAPABILITY = 'rl';
/**
 * Key segment of global counters (`<prefix>:_shared:rlg:{@global}:<algorithm>:<policy name>:<key>`):
 * their own, so that no partition (which lives under CAPABILITY, in whichever namespace) can
 * build a global counter's key, whatever its name.
 */
const GLOBAL_CAPABILITY = 'rlg';
/** `partition` value meaning "one partition per tenant" (the default of consumeMany and the guard). */
export const TENANT_PARTITION = 'tenant';
/**
 * Hash tag of every global counter (RateLimitCheck.global), in the shared namespace: one slot for
 * all of them, apart from every tenant's, so that the global checks of one call share a script.
 * A partition may carry the same tag: its counters are under CAPABILITY, never GLOBAL_CAPABILITY.
 */
const GLOBAL_TAG = '@global';

/**
 * Which counter a single-counter call (consume, enforce, peek, reset) uses: by default the key's
 * own in the tenant's namespace; `partition`: the key's under that partition's hash tag (as
 * consumeMany counts it); `global`: the key's global counter, one for every tenant (as a
 * consumeMany check with `global: true` counts it).
 */
interface CounterOptions {
  partition?: string;
  global?: boolean;
}

type PolicyCallOptions = RateLimitPolicy & CounterOptions & { tenant?: string };

/**
 * Rate limits shared by every instance: one atomic Lua script (one round trip) per check,
 * on the Redis clock (or on the module's `clock` when the application configured one, as
 * tests do with a ManualClock). Five algorithms, multi-policy checks that consume nothing
 * unless all allow, a local deny cache, a fleet-sized per-instance fallback while Redis is down
 * or silent past `rateLimit.timeoutMs`, global counters shared by every tenant, and a violation
 * log with alerts.
 *
 * Returning and throwing: `consume` / `consumeMany` / `peek` return a decision (a denial is
 * `allowed: false`); `enforce` / `enforceMany` throw `RateLimitedError` on a denial, and
 * `RedisUnavailableError` when failing closed (`onRedisUnavailable: 'fail-closed'`). Bad input
 * throws `InvalidArgumentError` / `InvalidKeyError` from all of them, before any Redis call.
 *
 * @example
 * const r = await rateLimits.consume(`user:${userId}`, { limit: 10, windowMs: 1_000 });
 * if (!r.allowed) throw new HttpException('slow down', 429);
 *
 * @example
 * // 10/s per user and 1000/min per company; a denial by either consumes from neither
 * const d = await rateLimits.consumeMany([
 *   { key: `user:${userId}`, policy: { name: 'user', limit: 10, windowMs: 1_000 }, scope: 'user' },
 *   { key: 'company', policy: { name: 'company', limit: 1_000, windowMs: 60_000, algorithm: 'gcra' }, scope: 'tenant' },
 * ]);
 */
@Injectable()
export class RateLimitService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly recorder: ViolationRecorder;
  private readonly decider: RateLimitDecider;
  private readonly fleet?: FleetHeartbeat;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(RATE_LIMIT_OPTIONS) private readonly options: ResolvedRateLimitOptions,
    @Inject(RATE_LIMIT_STORE) store: RateLimitStore,
    @Inject(VIOLATION_STORE) violations: ViolationStore,
    @Optional() events?: LibraryEventEmitter,
  ) {
    this.recorder = new ViolationRecorder(core, violations, options.violations, events);
    if (core.connection && options.heartbeatIntervalMs > 0) {
      this.fleet = new FleetHeartbeat(core.connection, core.keys, core.instanceId, options.heartbeatIntervalMs, core.metrics);
    }
    this.decider = new RateLimitDecider(core, options, store, this.recorder, this.fleet);
  }

  onModuleInit(): void {
    this.recorder.start();
    this.fleet?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.decider.close();
    await Promise.all([this.recorder.stop(), this.fleet?.stop()]);
  }

  /**
   * How many instances sharing this module's prefix (this one included) were alive at this
   * instance's last heartbeat (`rateLimit.heartbeatIntervalMs`). While Redis is unreachable the
   * local fallback allows `ceil(limit / liveInstances)` per policy, so the fleet together admits
   * about the limit. 1 on the memory driver, with the heartbeat off, and before the first heartbeat.
   *
   * @example
   * logger.log(`rate limits shared by ${rateLimits.liveInstances} instance(s)`);
   */
  get liveInstances(): number {
    return this.fleet?.liveInstances ?? 1;
  }

  /**
   * Takes `cost` (default 1) units from `key` under one policy. Resolves with the decision;
   * a denial is a result with `allowed: false`, not an error.
   *
   * @throws InvalidArgumentError naming the bad field (limit, windowMs, cost, ...), before any Redis call
   * @throws InvalidKeyError for an empty key or one with glob / hash-tag characters
   *
   * @example
   * const r = await rateLimits.consume(`user:${userId}`, { limit: 10, windowMs: 1_000 });
   * if (!r.allowed) res.setHeader('Retry-After', Math.ceil(r.retryAfterMs! / 1000));
   */
  consume(key: string, options: ConsumeOptions & CounterOptions): Promise<RateLimitResult> {
    return this.consumeOne(key, options, undefined);
  }

  /**
   * Like `consume`, but throws `RateLimitedError` (HTTP 429 in CoordinationExceptionFilter) when
   * denied, and `RedisUnavailableError` (503, as RateLimitGuard answers) when Redis is unreachable
   * under `rateLimit.onRedisUnavailable: 'fail-closed'`.
   *
   * @example
   * await rateLimits.enforce(`user:${userId}`, { limit: 10, windowMs: 1_000 }); // throws when over the limit
   */
  async enforce(key: string, options: ConsumeOptions & CounterOptions): Promise<RateLimitResult> {
    const result = await this.consumeOne(key, options, 'rateLimit.enforce');
    if (!result.allowed) throw new RateLimitedError(result);
    return result;
  }

  /** consume / enforce; `enforcing` names the throwing method (see CheckRequest.enforcing). */
  private async consumeOne(key: string, options: ConsumeOptions & CounterOptions, enforcing: string | undefined): Promise<RateLimitResult> {
    checkObject(options, 'options');
    const policy = normalizePolicy(options);
    const cost = normalizeCost(options.cost, [policy]);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.consume');
    const counter = this.counterOf(tenant, options, key, policy);
    const decision = await this.core.telemetry.tracer.trace(RATELIMIT_CONSUME, tenant, key, () => this.decider.decide({
      tenant, counters: [counter], policies: [policy], keys: [key], scopes: undefined, cost, consume: true, localNow: this.core.clock.now(),
      enforcing,
    }), policy.name);
    return decision.results[0];
  }

  /**
   * Checks several (key, policy) pairs atomically: all are consumed if every one allows,
   * none otherwise. All counters share one partition (hash tag), by default the tenant's.
   * Checks marked `global` count across tenants under their own hash tag; mixed with others, they
   * are decided after them, in a second script call (see RateLimitCheck.global for what that
   * changes). Resolves with the decision; a denial is `allowed: false`, not an error.
   *
   * @example
   * // 10/s per user, and 500/min for the endpoint across every tenant
   * await rateLimits.consumeMany([
   *   { key: `user:${userId}`, policy: { name: 'user', limit: 10, windowMs: 1_000 } },
   *   { key: 'reports.export', policy: { name: 'export-all', limit: 500, windowMs: 60_000 }, global: true },
   * ]);
   */
  consumeMany(checks: readonly RateLimitCheck[], options: ConsumeManyOptions = {}): Promise<RateLimitDecision> {
    return this.decideMany(checks, options, undefined);
  }

  /** consumeMany / enforceMany; `enforcing` names the throwing method (see CheckRequest.enforcing). */
  private async decideMany(checks: readonly RateLimitCheck[], options: ConsumeManyOptions, enforcing: string | undefined): Promise<RateLimitDecision> {
    if (!Array.isArray(checks) || checks.length === 0) throw new InvalidArgumentError('checks', 'must be a non-empty array', checks);
    checkObject(options, 'options');
    let globals = 0;
    const policies = checks.map((c, i) => {
      checkObject(c, `checks[${i}]`);
      if (c.global !== undefined && typeof c.global !== 'boolean') throw new InvalidArgumentError(`checks[${i}].global`, 'must be a boolean', c.global);
      if (c.global) globals++;
      return normalizePolicy(c.policy, `checks[${i}].policy.`);
    });
    const cost = normalizeCost(options.cost, policies);
    const tenant = this.tenantOfMany(options);
    const partition = options.partition ?? TENANT_PARTITION;
    const counters = checks.map((c, i) =>
      c.global ? this.globalKey(c.key, policies[i], `checks[${i}].key`) : this.counterKey(tenant, partition, c.key, policies[i], `checks[${i}].key`));
    if (counters.length > 1 && new Set(counters).size !== counters.length) {
      throw new InvalidArgumentError('checks', 'the same key and policy appear twice', checks.map((c) => c.key));
    }
    return this.core.telemetry.tracer.trace(RATELIMIT_CONSUME_MANY, tenant, checks.length === 1 ? checks[0].key : undefined, () => this.decider.decide({
      tenant, counters, policies, keys: checks.map((c) => c.key), scopes: checks.map((c) => c.scope), cost, consume: true,
      localNow: this.core.clock.now(), enforcing,
      // Only a mix needs two script calls: global counters alone share their own tag.
      global: globals > 0 && globals < checks.length ? checks.map((c) => c.global === true) : undefined,
    }), checks.length);
  }

  /**
   * Like `consumeMany`, but throws `RateLimitedError` (HTTP 429 in CoordinationExceptionFilter)
   * when the decision denies: its `result` is the first denying policy's, its `decision` the
   * whole decision. Throws `RedisUnavailableError` (503, as RateLimitGuard answers) when Redis is
   * unreachable under `rateLimit.onRedisUnavailable: 'fail-closed'`. Resolves with the decision otherwise.
   *
   * @example
   * // 10/s per user and 1000/min per company, outside HTTP (a queue consumer, a WebSocket handler)
   * await rateLimits.enforceMany([
   *   { key: `user:${userId}`, policy: { name: 'user', limit: 10, windowMs: 1_000 } },
   *   { key: 'company', policy: { name: 'company', limit: 1_000, windowMs: 60_000 } },
   * ]);
   */
  async enforceMany(checks: readonly RateLimitCheck[], options: ConsumeManyOptions = {}): Promise<RateLimitDecision> {
    const decision = await this.decideMany(checks, options, 'rateLimit.enforceMany');
    if (!decision.allowed) throw new RateLimitedError(decision.violated!, decision);
    return decision;
  }

  /** The state of `key` under a policy without consuming: `allowed` says whether a call of cost 1 would pass. */
  async peek(key: string, options: PolicyCallOptions): Promise<RateLimitResult> {
    checkObject(options, 'options');
    const policy = normalizePolicy(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.peek');
    const counter = this.counterOf(tenant, options, key, policy);
    const decision = await this.core.telemetry.tracer.trace(RATELIMIT_PEEK, tenant, key, () => this.decider.decide({
      tenant, counters: [counter], policies: [policy], keys: [key], scopes: undefined, cost: 1, consume: false, localNow: this.core.clock.now(),
    }), policy.name);
    return decision.results[0];
  }

  /** Forgets the counter of `key` under a policy (and this instance's deny-cache entry for it). */
  async reset(key: string, options: PolicyCallOptions): Promise<void> {
    checkObject(options, 'options');
    const policy = normalizePolicy(options);
    const tenant = this.core.tenants.resolve(options.tenant, 'rateLimit.reset');
    const counter = this.counterOf(tenant, options, key, policy);
    await this.core.telemetry.tracer.trace(RATELIMIT_RESET, tenant, key, () => this.decider.reset(counter), policy.name);
  }

  /**
   * Recent violations of a tenant, newest first, filtered by time (`since`: a Date or ms since
   * the epoch), scope and key.
   *
   * @throws InvalidArgumentError naming `query`, `since` or `limit` when one has the wrong type
   */
  async getViolations(query: ViolationQuery = {}): Promise<RateLimitViolation[]> {
    checkObject(query, 'query');
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit <= 0) throw new InvalidArgumentError('limit', 'must be a positive integer', limit);
    const since = sinceOf(query.since);
    const tenant = this.core.tenants.resolve(query.tenant, 'rateLimit.getViolations');
    await this.recorder.flush();
    const all = await this.recorder.list(tenant, this.options.violations.maxPerTenant);
    const out: RateLimitViolation[] = [];
    for (const v of all) {
      if (v.at < since || (query.scope !== undefined && v.scope !== query.scope) || (query.key !== undefined && v.key !== query.key)) continue;
      out.push(v);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The tenant of a consumeMany: the shared namespace only on explicit request (see ConsumeManyOptions.sharedNamespace). */
  private tenantOfMany(options: ConsumeManyOptions): string {
    if (options.sharedNamespace === undefined || options.sharedNamespace === false) {
      return this.core.tenants.resolve(options.tenant, 'rateLimit.consumeMany');
    }
    if (options.sharedNamespace !== true) throw new InvalidArgumentError('sharedNamespace', 'must be a boolean', options.sharedNamespace);
    if (options.tenant !== undefined) throw new InvalidArgumentError('sharedNamespace', 'cannot be combined with tenant', options.tenant);
    return SHARED_TENANT;
  }

  /** The counter of a single-counter call: global, in a partition, or the key's own. */
  private counterOf(tenant: string, options: CounterOptions, key: string, policy: NormalizedPolicy): string {
    if (options.global === undefined || options.global === false) return this.counterKey(tenant, options.partition, key, policy, 'key');
    if (options.global !== true) throw new InvalidArgumentError('global', 'must be a boolean', options.global);
    if (options.partition !== undefined) throw new InvalidArgumentError('global', 'cannot be combined with partition', options.partition);
    return this.globalKey(key, policy, 'key');
  }

  /** The Redis key of a global counter: the shared namespace, its own segment, the one global hash tag. */
  private globalKey(key: string, policy: NormalizedPolicy, argument: string): string {
    assertSafeId(key, argument);
    return this.core.keys.key(SHARED_TENANT, GLOBAL_CAPABILITY, GLOBAL_TAG, policy.keyTail, key);
  }

  /** The Redis key of one counter. Every key of one check shares the `{partition}` hash tag. */
  private counterKey(tenant: string, partition: string | undefined, key: string, policy: NormalizedPolicy, argument: string): string {
    assertSafeId(key, argument);
    if (partition === undefined) return this.core.keys.key(tenant, CAPABILITY, key, policy.keyTail);
    assertSafeId(partition, 'partition');
    const tag = partition === TENANT_PARTITION ? `@${tenant}` : partition;
    return this.core.keys.key(tenant, CAPABILITY, tag, policy.keyTail, key);
  }
}
