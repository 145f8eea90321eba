import { Logger } from '@nestjs/common';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { KeyBuilder } from '../keys/key-builder.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { FLEET_HEARTBEAT_SCRIPT } from './rate-limit.scripts.js';

/** An instance counts as alive for this many heartbeat intervals after its last heartbeat. */
const LIVE_FOR_HEARTBEATS = 3;

/**
 * Keeps this instance's heartbeat in Redis and remembers how many instances sharing the module
 * prefix were alive at the last heartbeat, so that the local fallback limiter can take this
 * instance's share of every limit while Redis is unreachable (the fleet then admits about
 * `limit` in total, not `limit` per instance). One script call per `intervalMs` (not per check):
 * a sorted set under `<prefix>:_shared:ratelimit-fleet:{instances}`, one entry per instance,
 * alive for three intervals. While Redis is unreachable the heartbeat fails and the last count
 * stays: the fleet as it was when the outage began.
 *
 * An instance joins at its first rate-limit check, so an application that never checks a rate
 * limit writes nothing and sends nothing. Every tick of the timer counts in
 * `ratelimit_heartbeat_ticks_total`, joined or not (only joined ticks send a heartbeat).
 *
 * @example
 * const fleet = new FleetHeartbeat(connection, core.keys, core.instanceId, 5_000, core.metrics);
 * fleet.start();  // at module init, outside any request
 * fleet.join();   // at the first check: beats now and every 5 s from then on
 * fleet.liveInstances; // 1 until the first heartbeat answers, then the instances alive
 */
export class FleetHeartbeat {
  private readonly logger = new Logger('Coordination:RateLimit');
  private readonly key: string;
  private timer?: NodeJS.Timeout;
  private live = 1;
  private failing = false;
  /** Whether this instance has joined the fleet (its first rate-limit check). */
  joined = false;

  constructor(
    private readonly connection: RedisConnection,
    keys: KeyBuilder,
    private readonly instanceId: string,
    private readonly intervalMs: number,
    private readonly metrics: MetricsRegistry,
  ) {
    this.key = keys.key(SHARED_TENANT, 'ratelimit-fleet', 'instances');
  }

  /** Instances (this one included) alive at the last heartbeat that Redis answered; at least 1. */
  get liveInstances(): number {
    return this.live;
  }

  /**
   * Arms the timer, which beats every `intervalMs` once the instance has joined. Call outside
   * any request (module init), so that the timer carries no request's context.
   */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.metrics.increment('ratelimit_heartbeat_ticks_total');
      void this.beat();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Joins the fleet: beats now, and with every tick of the timer from then on. Cheap to call again. */
  join(): void {
    if (this.joined) return;
    this.joined = true;
    void this.beat();
  }

  /** Stops beating and leaves the fleet, so the others count one instance less at their next heartbeat. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.joined) return;
    this.joined = false;
    await this.run(0).catch(() => undefined);
  }

  /** One heartbeat, once joined; resolves once answered or failed (never rejects). */
  async beat(): Promise<void> {
    if (!this.joined) return;
    try {
      this.live = Math.max(1, await this.run(LIVE_FOR_HEARTBEATS * this.intervalMs));
      if (this.failing) this.logger.log(`Rate-limit heartbeat answers again: ${this.live} instance(s) alive`);
      this.failing = false;
    } catch (error) {
      if (!this.failing) {
        this.logger.warn(`Rate-limit heartbeat failed (${error instanceof Error ? error.message : String(error)}); the local fallback keeps sizing by ${this.live} instance(s)`);
      }
      this.failing = true;
    }
  }

  private run(liveForMs: number): Promise<number> {
    return this.connection.runScript<number>(FLEET_HEARTBEAT_SCRIPT, [this.key], [this.instanceId, liveForMs]);
  }
}
