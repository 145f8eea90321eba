import { Logger } from '@nestjs/common';
import type { CoordinationCore } from '../core/coordination-core.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { resizePolicy, type NormalizedPolicy } from './rate-limit-policy.js';
import type { StoreCheckResult } from './rate-limit-store.interface.js';
import type { ResolvedRateLimitOptions } from './rate-limit.options.js';

/**
 * The local counts outlive a recovery by this long: an outage that follows within it counts on
 * from them, so a Redis going away and back every few seconds cannot reset the local limiter.
 */
export const LOCAL_COUNTS_KEPT_MS = 60_000;
/** At most one "Redis unavailable" warning (and its "answers again") per this many ms. */
export const WARN_EVERY_MS = 60_000;

/** What the decider needs of the fleet (FleetHeartbeat). */
export interface FleetView {
  /** Instances sharing the prefix alive when Redis last answered a heartbeat (this one included); at least 1. */
  readonly liveInstances: number;
  /** Whether this instance counts itself in yet. */
  readonly joined: boolean;
  /** Counts this instance in from now on (at its first check). */
  join(): void;
}

/**
 * The per-instance limiter that answers rate-limit checks while Redis is unreachable
 * (`rateLimit.onRedisUnavailable: 'local'`), and the degraded/recovered bookkeeping of both
 * policies (library-internal, used by RateLimitDecider).
 *
 * Sized by the fleet: each instance allows its share, `ceil(limit / live instances)` (and the
 * same share of a bucket's `burst`), so N instances together admit at most `limit` plus N - 1 of
 * rounding per window, instead of N × limit. The share is never below the call's cost, so a call
 * the policy allows can still pass somewhere. The count is the one last seen before the outage;
 * counting starts afresh at an outage (what Redis had counted is unknown), and the local counts
 * are dropped once Redis has answered for LOCAL_COUNTS_KEPT_MS after the outage (an outage
 * within that time counts on from them). The warning that the fallback answers is logged at most
 * once per WARN_EVERY_MS; a later one says how many outages went unlogged.
 *
 * @example
 * const fallback = new LocalFallback(core, options, fleet);
 * const answer = await fallback.check([counter], [policy], 1, true); // limit 100, 4 instances: 25 per instance
 */
export class LocalFallback {
  private readonly logger = new Logger('Coordination:RateLimit');
  private shares = new WeakMap<NormalizedPolicy, NormalizedPolicy>();
  private store?: MemoryRateLimitStore;
  /** Sized for this many instances; shares are recomputed when it changes. */
  private sizedFor = 1;
  /** The local counts are kept after a recovery until then (`performance.now()` time); set only while they are. */
  private dropAt?: number;
  private lastWarnAt = -Infinity;
  private unlogged = 0;
  /** Whether the current outage was logged (and its end is then logged too). */
  private warned = false;

  constructor(
    private readonly core: CoordinationCore,
    private readonly options: ResolvedRateLimitOptions,
    private readonly fleet: FleetView | undefined,
  ) {}

  /** The local limiter's answer, each policy cut to this instance's share. */
  check(counters: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreCheckResult> {
    this.store ??= new MemoryRateLimitStore(this.core.clock);
    this.dropAt = undefined;
    const instances = this.fleet?.liveInstances ?? 1;
    if (instances !== this.sizedFor) {
      this.shares = new WeakMap();
      this.sizedFor = instances;
    }
    const local = instances <= 1 ? policies : policies.map((p) => this.shareOf(p, instances, cost));
    return this.store.check(counters, local, cost, consume);
  }

  /** Counts a check answered by `onRedisUnavailable` because Redis was unreachable or silent. */
  unavailable(): void {
    this.core.metrics.increment('ratelimit_redis_unavailable_total', { mode: this.options.onRedisUnavailable });
  }

  /** An outage began (RateLimitDecider's degraded mode): warns, at most once per WARN_EVERY_MS. */
  outage(error: Error): void {
    const now = performance.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) {
      this.unlogged++;
      return;
    }
    const earlier = this.unlogged === 0 ? '' : ` (${this.unlogged} earlier outage(s) not logged)`;
    this.lastWarnAt = now;
    this.unlogged = 0;
    this.warned = true;
    const instances = this.fleet?.liveInstances ?? 1;
    const policy = this.options.onRedisUnavailable === 'local'
      ? `fall back to this instance's local limiter (${instances === 1 ? 'the whole limit' : `1/${instances} of each limit, ${instances} instances alive`})`
      : 'fail closed';
    this.logger.warn(`Redis unavailable (${error.message}): rate limits ${policy} until it answers again${earlier}`);
  }

  /** The outage ended: counting is shared again; the local counts go after LOCAL_COUNTS_KEPT_MS (see `settle`). */
  recovered(): void {
    if (this.store) this.dropAt = performance.now() + LOCAL_COUNTS_KEPT_MS;
    if (!this.warned) return;
    this.warned = false;
    this.logger.log('Redis answers again: rate limits are shared again');
  }

  /** Whether local counts are kept after a recovery (then call `settle` when Redis answers). */
  get keeping(): boolean {
    return this.dropAt !== undefined;
  }

  /** Redis answered in time: drops the local counts once they were kept long enough. */
  settle(): void {
    if (this.dropAt !== undefined && performance.now() >= this.dropAt) {
      this.store = undefined;
      this.dropAt = undefined;
    }
  }

  async reset(counters: readonly string[]): Promise<void> {
    await this.store?.reset(counters);
  }

  private shareOf(policy: NormalizedPolicy, instances: number, cost: number): NormalizedPolicy {
    let share = this.shares.get(policy);
    if (!share) {
      share = resizePolicy(policy, Math.ceil(policy.limit / instances), Math.ceil(policy.burst / instances));
      this.shares.set(policy, share);
    }
    // Rare: a call costing more than the share (the stores' arithmetic assumes cost <= capacity).
    if (share.limit < cost || share.burst < cost) return resizePolicy(share, Math.max(share.limit, cost), Math.max(share.burst, cost));
    return share;
  }
}
