import { Logger } from '@nestjs/common';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';
import type { BreakerState, CircuitBreaker } from './circuit-breaker.js';
import type { ConnectionMetrics } from './connection-metrics.js';
import type { ClientRole, RedisClient, Topology } from './redis-client.factory.js';

export type HealthStatus = 'up' | 'degraded' | 'down';

export interface ConnectionHealth {
  status: HealthStatus;
  topology: Topology;
  /** Latency of the last successful PING, in ms. */
  pingLatencyMs?: number;
  lastError?: string;
  lastErrorAt?: Date;
  lastReadyAt?: Date;
  reconnectCount: number;
  breaker: BreakerState;
}

type HealthListener = (health: ConnectionHealth) => void;

/**
 * Derives the health of one module instance's connections from client events (ready, error,
 * reconnecting, close, end), the breaker state and a periodic PING, and tells listeners
 * whenever the status (`up`, `degraded`, `down`) changes.
 *
 * - `down`: the command connection is not ready, or the breaker is open.
 * - `degraded`: the last PING took longer than `health.degradedLatencyMs`, the subscriber
 *   connection is not ready, or the breaker is half-open.
 *
 * @example
 * const tracker = new ConnectionHealthTracker(command, 'standalone', breaker, options.health);
 * tracker.watch(command, 'command');
 * tracker.onChange((health) => logger.log(health.status));
 */
export class ConnectionHealthTracker {
  private readonly logger = new Logger('Coordination:Redis');
  private readonly listeners = new Set<HealthListener>();
  private readonly unwatchers: Array<() => void> = [];
  private readonly state: Omit<ConnectionHealth, 'status' | 'breaker' | 'topology'> = { reconnectCount: 0 };
  private subscriber?: RedisClient;
  private pingTimer?: NodeJS.Timeout;
  private lastStatus: HealthStatus = 'down';
  private readyOnce = false;

  constructor(
    private readonly command: RedisClient,
    private readonly topology: Topology,
    private readonly breaker: CircuitBreaker,
    private readonly options: ResolvedCoordinationOptions['health'],
    /** Counts reconnects (`redis_reconnects_total`); absent for a tracker that counts nothing. */
    private readonly meter?: ConnectionMetrics,
  ) {
    breaker.onStateChange(() => this.emit());
  }

  /** The command connection has been ready at least once: from then on "not ready" means it was lost. */
  get everReady(): boolean {
    return this.readyOnce;
  }

  /** Follows the events of `client` until `detach()`. Blocking clients are not watched: they do not count towards health. */
  watch(client: RedisClient, role: Exclude<ClientRole, 'blocking'>): void {
    if (role === 'subscriber') this.subscriber = client;
    // Ready again after having been ready once is a reconnect (the attempts are `reconnecting`).
    let readyBefore = client.status === 'ready';
    const handlers: Record<string, (...args: any[]) => void> = {
      ready: () => {
        if (readyBefore && role !== 'queue') this.meter?.reconnected(role);
        readyBefore = true;
        if (role === 'command') this.markReady();
        else this.emit();
      },
      error: (error: Error) => this.recordError(error),
      reconnecting: () => {
        if (role === 'command') this.state.reconnectCount += 1;
        this.emit();
      },
      close: () => this.emit(),
      end: () => this.emit(),
    };
    for (const [event, handler] of Object.entries(handlers)) client.on(event, handler);
    // A client the user passed in outlives this module: it must not keep our listeners (and us).
    this.unwatchers.push(() => {
      for (const [event, handler] of Object.entries(handlers)) client.off(event, handler);
    });
  }

  /** The command connection is ready (at start, or again after a reconnect). */
  markReady(): void {
    if (this.readyOnce) this.logger.log('Redis connection ready again');
    this.readyOnce = true;
    this.state.lastReadyAt = new Date();
    // A reconnect proves Redis answers again; let the next call through as the probe.
    if (this.breaker.state !== 'closed') this.breaker.onSuccess();
    this.emit();
  }

  recordError(error: unknown): void {
    this.state.lastError = error instanceof Error ? error.message : String(error);
    this.state.lastErrorAt = new Date();
    this.emit();
  }

  /** Records the latency of a successful PING, rounded to 0.01 ms, and returns it. */
  recordPing(latencyMs: number): number {
    this.state.pingLatencyMs = Math.round(latencyMs * 100) / 100;
    this.emit();
    return this.state.pingLatencyMs;
  }

  /** Calls `ping` every `health.pingIntervalMs` (0 turns it off) until `stop()`; its failures are recorded by the executor. */
  startPinging(ping: () => Promise<unknown>): void {
    const interval = this.options.pingIntervalMs;
    if (interval <= 0 || this.pingTimer) return;
    this.pingTimer = setInterval(() => ping().catch(() => undefined), interval);
    this.pingTimer.unref();
  }

  stopPinging(): void {
    clearInterval(this.pingTimer);
  }

  /** Removes every client listener `watch()` added. */
  detach(): void {
    for (const unwatch of this.unwatchers.splice(0)) unwatch();
  }

  snapshot(): ConnectionHealth {
    return { ...this.state, status: this.status(), topology: this.topology, breaker: this.breaker.state };
  }

  /** Called with the new health on every status change. Returns an unsubscribe function. */
  onChange(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private status(): HealthStatus {
    if (this.command.status !== 'ready' || this.breaker.state === 'open') return 'down';
    const slow = (this.state.pingLatencyMs ?? 0) > this.options.degradedLatencyMs;
    const subscriberDown = this.subscriber !== undefined && this.subscriber.status !== 'ready';
    return slow || subscriberDown || this.breaker.state === 'half-open' ? 'degraded' : 'up';
  }

  private emit(): void {
    const health = this.snapshot();
    if (health.status === this.lastStatus) return;
    this.lastStatus = health.status;
    for (const listener of this.listeners) listener(health);
  }
}
