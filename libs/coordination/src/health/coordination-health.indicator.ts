import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { BreakerState } from '../connection/circuit-breaker.js';
import type { HealthStatus } from '../connection/connection-health.tracker.js';
import type { Topology } from '../connection/redis-client.factory.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { probeRedis, type RedisProbeResult } from './redis-health.probe.js';
import type { ClusterState, MemoryUsage } from './redis-info.parser.js';

/**
 * How much a check reports: `'full'` adds {@link CoordinationHealthDetails} (Redis error text,
 * addresses, memory figures, topology) next to the status; `'status'` reports `up`, `degraded`
 * or `down` and nothing else, for callers who are not operators.
 */
export type CoordinationHealthDetailLevel = 'full' | 'status';

/** Per-call settings of `CoordinationHealthIndicator.isHealthy()`. */
export interface CoordinationHealthCheckOptions {
  /** Bound on each Redis command of the check (PING, INFO, CLUSTER INFO). Default 1_000. */
  timeoutMs?: number;
  /** Memory use (of `maxmemory`, on the fullest node) from which the check is `degraded`. Default 90. */
  memoryDegradedPercent?: number;
  /**
   * `'full'` (default, for backward compatibility) or `'status'`. The full details name Redis'
   * address, its error text and memory figures: pass `'status'` wherever the endpoint answers
   * unauthenticated callers, and `'full'` only to operators.
   *
   * @example
   * // Decide per request: a load balancer gets the status, an operator the details.
   * check(@Req() req: Request) {
   *   const details = req.user?.roles.includes('ops') ? 'full' : 'status';
   *   return this.health.check([() => this.coordination.isHealthy('coordination', { details })]);
   * }
   */
  details?: CoordinationHealthDetailLevel;
}

export const DEFAULT_HEALTH_CHECK_OPTIONS: Required<CoordinationHealthCheckOptions> = {
  timeoutMs: 1_000, memoryDegradedPercent: 90, details: 'full',
};

/** What the indicator reports under its key, next to Terminus' `status`. */
// A type alias, not an interface: Terminus takes the details as Record<string, unknown>.
export type CoordinationHealthDetails = {
  driver: 'redis' | 'memory';
  reachable: boolean;
  /** The connection's own state (client events, background PING, breaker). */
  connection?: HealthStatus;
  topology?: Topology;
  pingLatencyMs?: number;
  role?: string;
  masters?: number;
  cluster?: ClusterState;
  memory?: MemoryUsage;
  breaker?: BreakerState;
  reconnectCount?: number;
  lastError?: string;
  lastErrorAt?: string;
  /** Why this check failed to reach Redis. */
  error?: string;
  infoError?: string;
  /** Why the status is not `up`. */
  reasons?: string[];
  message?: string;
};

/**
 * Terminus health indicator for the coordination layer, in the `HealthIndicatorService`
 * style of @nestjs/terminus 11+: it returns `up`, `degraded` or `down` results instead of
 * throwing. Each call sends a fresh PING plus INFO (and CLUSTER INFO on a cluster), each
 * bounded by `timeoutMs`, so `/health` answers quickly even when Redis is paused.
 *
 * Status mapping:
 * - `down` (Terminus answers 503): PING fails or times out, the connection is down or its
 *   breaker open, or a cluster's `cluster_state` is not `ok` (it refuses queries then).
 * - `degraded` (HTTP 200, overall status `degraded`): Redis answers but the connection
 *   reports degraded (slow PING above `health.degradedLatencyMs`, subscriber down, breaker
 *   half-open) or memory use reaches `memoryDegradedPercent` of `maxmemory`. Degraded is not
 *   a failure on purpose: the instance still serves, and an orchestrator that restarted it
 *   would not make Redis any faster. Terminus 12 reports it as `status: 'degraded'` under the key.
 * - `up`: everything else; the memory driver is always `up`.
 *
 * Registered and exported by `CoordinationModule`; add it to a Terminus `HealthCheckService` check.
 * The details include Redis' error text, node addresses and memory figures: an endpoint that
 * answers anonymous callers should pass `details: 'status'` (see {@link CoordinationHealthCheckOptions.details}).
 *
 * @example
 * @Controller('health')
 * export class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly coordination: CoordinationHealthIndicator) {}
 *
 *   @Get()
 *   @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.coordination.isHealthy('coordination', { timeoutMs: 500 })]);
 *   }
 *
 *   @Public() // what a load balancer calls: up / degraded / down, nothing about Redis itself
 *   @Get('live')
 *   @HealthCheck()
 *   live() {
 *     return this.health.check([() => this.coordination.isHealthy('coordination', { details: 'status' })]);
 *   }
 * }
 */
@Injectable()
export class CoordinationHealthIndicator {
  // HealthIndicatorService is stateless; creating it here keeps TerminusModule (and its
  // shutdown hooks) out of CoordinationModule, so the app decides how Terminus is set up.
  private readonly indicators = new HealthIndicatorService();

  constructor(private readonly core: CoordinationCore) {}

  async isHealthy<const Key extends string = 'coordination'>(
    key: Key = 'coordination' as Key,
    options: CoordinationHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const { timeoutMs, memoryDegradedPercent, details: level } = checkOptions(options);
    const session = this.indicators.check(key);
    const connection = this.core.connection;
    if (!connection) {
      if (level === 'status') return session.up();
      const details: CoordinationHealthDetails = {
        driver: 'memory', reachable: true, message: 'in-memory driver: state is local to this process',
      };
      return session.up(details);
    }

    const probe = await probeRedis(connection, timeoutMs);
    const health = connection.health();
    const details: CoordinationHealthDetails = {
      driver: 'redis',
      reachable: probe.reachable,
      connection: health.status,
      topology: health.topology,
      pingLatencyMs: probe.pingLatencyMs,
      role: probe.role,
      masters: probe.masters,
      cluster: probe.cluster,
      memory: probe.memory,
      breaker: health.breaker,
      reconnectCount: health.reconnectCount,
      lastError: health.lastError,
      lastErrorAt: health.lastErrorAt?.toISOString(),
      error: probe.error,
      infoError: probe.infoError,
    };
    const full = level === 'full';
    const down = downReasons(probe, health.status);
    if (down.length > 0) return full ? session.down({ ...details, reasons: down }) : session.down();
    const degraded = degradedReasons(probe, health.status, memoryDegradedPercent);
    if (degraded.length > 0) return full ? session.degraded({ ...details, reasons: degraded }) : session.degraded();
    return full ? session.up(details) : session.up();
  }
}

function downReasons(probe: RedisProbeResult, connection: HealthStatus): string[] {
  const reasons: string[] = [];
  if (!probe.reachable) reasons.push(`Redis did not answer PING (${probe.error})`);
  if (probe.reachable && connection === 'down') reasons.push('connection is down (not ready, or circuit breaker open)');
  if (probe.cluster && probe.cluster.state !== 'ok') reasons.push(`cluster_state is ${probe.cluster.state}`);
  return reasons;
}

function degradedReasons(probe: RedisProbeResult, connection: HealthStatus, memoryDegradedPercent: number): string[] {
  const reasons: string[] = [];
  if (connection === 'degraded') reasons.push('connection is degraded (slow PING, subscriber down or breaker half-open)');
  const usedPercent = probe.memory?.usedPercent;
  if (usedPercent !== undefined && usedPercent >= memoryDegradedPercent) {
    reasons.push(`memory use is ${usedPercent}% of maxmemory (threshold ${memoryDegradedPercent}%)`);
  }
  return reasons;
}

function checkOptions(options: CoordinationHealthCheckOptions): Required<CoordinationHealthCheckOptions> {
  const resolved = { ...DEFAULT_HEALTH_CHECK_OPTIONS, ...options };
  if (!Number.isFinite(resolved.timeoutMs) || resolved.timeoutMs <= 0) {
    throw new InvalidArgumentError('options.timeoutMs', 'must be a positive number of milliseconds', resolved.timeoutMs);
  }
  const percent = resolved.memoryDegradedPercent;
  if (!Number.isFinite(percent) || percent <= 0 || percent > 100) {
    throw new InvalidArgumentError('options.memoryDegradedPercent', 'must be a number in (0, 100]', percent);
  }
  if (resolved.details !== 'full' && resolved.details !== 'status') {
    throw new InvalidArgumentError('options.details', "must be 'full' or 'status'", resolved.details);
  }
  return resolved;
}
