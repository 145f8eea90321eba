import { Logger } from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';
import { backoffDelay } from './backoff.js';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js';
import type { LuaScript } from './lua-script.js';
import { isTransportError } from './redis-errors.js';

export type RedisClient = Redis | Cluster;
export type Topology = 'standalone' | 'sentinel' | 'cluster';
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

type ScriptRunner = (numKeys: number, ...args: Array<string | number | Buffer>) => Promise<unknown>;

/**
 * Owns the ioredis connections of one module instance, one per role: commands, a shared
 * subscriber, and dedicated connections for blocking reads. Derives a health state from
 * client events and a periodic PING, and guards every command with a circuit breaker so
 * that an outage fails fast instead of queueing.
 */
export class RedisConnection {
  readonly topology: Topology;
  readonly breaker: CircuitBreaker;
  private readonly logger = new Logger('Coordination:Redis');
  private readonly command: RedisClient;
  private readonly owned: RedisClient[] = [];
  private subscriberClient?: RedisClient;
  private readonly defined = new WeakMap<RedisClient, Set<string>>();
  private readonly healthListeners = new Set<(health: ConnectionHealth) => void>();
  private pingTimer?: NodeJS.Timeout;
  private state: Omit<ConnectionHealth, 'status' | 'breaker' | 'topology'> = { reconnectCount: 0 };
  private lastStatus: HealthStatus = 'down';
  private everReady = false;

  constructor(private readonly options: ResolvedCoordinationOptions) {
    const c = options.connection;
    this.topology = c.cluster || c.client instanceof Cluster ? 'cluster' : c.sentinels ? 'sentinel' : 'standalone';
    this.breaker = new CircuitBreaker(options.breaker, options.clock);
    this.breaker.onStateChange(() => this.emitHealth());
    if (c.client) {
      this.command = c.client;
    } else {
      this.command = this.create('command');
      this.owned.push(this.command);
    }
    this.watch(this.command, 'command');
  }

  /** The command connection. Prefer `execute()`, which applies the breaker. */
  get client(): RedisClient {
    return this.command;
  }

  /** Waits until the command connection is ready, or `connectTimeoutMs` passes (then logs and goes on degraded). */
  async connect(): Promise<void> {
    this.startPing();
    if (this.command.status === 'ready') return this.markReady();
    if (this.command.status === 'wait') this.command.connect().catch(() => undefined);
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.options.connection.connectTimeoutMs);
      this.command.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!ready) {
      this.logger.warn(`Redis not ready after ${this.options.connection.connectTimeoutMs}ms; capabilities follow their failure policy until it is`);
    }
  }

  /** The shared subscriber connection (created on first use). It may only (p)subscribe. */
  subscriber(): RedisClient {
    if (!this.subscriberClient) {
      this.subscriberClient = this.create('subscriber');
      this.owned.push(this.subscriberClient);
      this.watch(this.subscriberClient, 'subscriber');
    }
    return this.subscriberClient;
  }

  /** A new connection for blocking reads (XREADGROUP BLOCK, BLPOP); closed with the module. */
  createBlockingClient(): RedisClient {
    const client = this.create('blocking');
    this.owned.push(client);
    return client;
  }

  /**
   * Runs `fn` against the command connection through the circuit breaker. Transport
   * failures become `RedisUnavailableError` (or `CircuitOpenError`, a subclass) so that
   * callers can apply their fallback policy; reply errors pass through unchanged.
   */
  async execute<T>(operation: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    this.breaker.assertCanPass();
    if (this.everReady && this.command.status !== 'ready') {
      this.breaker.onFailure();
      throw new RedisUnavailableError(operation, new Error(`connection is ${this.command.status}`));
    }
    try {
      const result = await fn(this.command);
      this.breaker.onSuccess();
      return result;
    } catch (error) {
      if (!isTransportError(error)) {
        this.breaker.onSuccess();
        throw error;
      }
      this.recordError(error);
      this.breaker.onFailure();
      throw new RedisUnavailableError(operation, error);
    }
  }

  /** Runs a Lua script (EVALSHA with EVAL fallback) through `execute()`. */
  runScript<T>(script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<T> {
    return this.execute(script.name, (client) => this.scriptOn(client, script)(keys.length, ...keys, ...args) as Promise<T>);
  }

  /** Runs a Lua script on a specific client (e.g. inside a pipeline owner), without the breaker. */
  scriptOn(client: RedisClient, script: LuaScript): ScriptRunner {
    let names = this.defined.get(client);
    if (!names) this.defined.set(client, (names = new Set()));
    if (!names.has(script.name)) {
      client.defineCommand(script.name, { lua: script.lua });
      names.add(script.name);
    }
    return (client as unknown as Record<string, ScriptRunner>)[script.name].bind(client);
  }

  /** Sends a PING, records its latency and returns it in ms. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.execute('ping', (client) => client.ping());
    this.state.pingLatencyMs = Math.round((performance.now() - started) * 100) / 100;
    this.emitHealth();
    return this.state.pingLatencyMs;
  }

  health(): ConnectionHealth {
    return { ...this.state, status: this.status(), topology: this.topology, breaker: this.breaker.state };
  }

  /** Called with the new health on every status change. Returns an unsubscribe function. */
  onHealthChange(listener: (health: ConnectionHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  /** Closes every connection this module opened (never a client the user passed in). */
  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    await Promise.all(
      this.owned.map(async (client) => {
        try {
          await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 1_000).unref())]);
        } catch {
          // quitting a connection that is already down fails; disconnect below covers it
        }
        client.disconnect();
      }),
    );
  }

  private status(): HealthStatus {
    if (this.command.status !== 'ready' || this.breaker.state === 'open') return 'down';
    const slow = (this.state.pingLatencyMs ?? 0) > this.options.health.degradedLatencyMs;
    const subscriberDown = this.subscriberClient !== undefined && this.subscriberClient.status !== 'ready';
    return slow || subscriberDown || this.breaker.state === 'half-open' ? 'degraded' : 'up';
  }

  private create(role: 'command' | 'subscriber' | 'blocking'): RedisClient {
    const existing = this.options.connection.client;
    if (existing) return existing instanceof Cluster ? existing.duplicate() : existing.duplicate();
    const c = this.options.connection;
    const { baseDelayMs, maxDelayMs } = this.options.reconnect;
    const retryStrategy = (times: number) => backoffDelay(times, baseDelayMs, maxDelayMs);
    const common: RedisOptions = {
      username: c.username,
      password: c.password,
      db: c.db,
      tls: c.tls === true ? {} : c.tls === false ? undefined : (c.tls as RedisOptions['tls']),
      connectTimeout: c.connectTimeoutMs,
      connectionName: `coord:${this.options.instanceId}:${role}`,
      retryStrategy,
      lazyConnect: role === 'command',
      enableAutoPipelining: role === 'command',
      // Blocking reads wait as long as they are told to; commands fail fast so the
      // breaker and the failure policies can act instead of piling up a queue.
      maxRetriesPerRequest: role === 'blocking' ? null : 1,
      commandTimeout: role === 'command' ? c.commandTimeoutMs : undefined,
    };
    if (c.cluster) {
      const clusterOptions: ClusterOptions = {
        redisOptions: common,
        clusterRetryStrategy: retryStrategy,
        lazyConnect: role === 'command',
        enableAutoPipelining: role === 'command',
        scaleReads: 'master',
      };
      return new Cluster(c.cluster, clusterOptions);
    }
    if (c.sentinels) return new Redis({ ...common, sentinels: c.sentinels, name: c.sentinelName });
    if (c.url) return new Redis(c.url, common);
    return new Redis({ ...common, host: c.host ?? '127.0.0.1', port: c.port ?? 6379 });
  }

  private watch(client: RedisClient, role: string): void {
    client.on('ready', () => {
      if (role === 'command') this.markReady();
      else this.emitHealth();
    });
    client.on('error', (error: Error) => this.recordError(error));
    client.on('reconnecting', () => {
      if (role === 'command') this.state.reconnectCount += 1;
      this.emitHealth();
    });
    client.on('close', () => this.emitHealth());
    client.on('end', () => this.emitHealth());
  }

  private markReady(): void {
    if (this.everReady) this.logger.log('Redis connection ready again');
    this.everReady = true;
    this.state.lastReadyAt = new Date();
    // A reconnect proves Redis answers again; let the next call through as the probe.
    if (this.breaker.state !== 'closed') this.breaker.onSuccess();
    this.emitHealth();
  }

  private recordError(error: unknown): void {
    this.state.lastError = error instanceof Error ? error.message : String(error);
    this.state.lastErrorAt = new Date();
    this.emitHealth();
  }

  private startPing(): void {
    const interval = this.options.health.pingIntervalMs;
    if (interval <= 0 || this.pingTimer) return;
    this.pingTimer = setInterval(() => this.ping().catch(() => undefined), interval);
    this.pingTimer.unref();
  }

  private emitHealth(): void {
    const health = this.health();
    if (health.status === this.lastStatus) return;
    this.lastStatus = health.status;
    for (const listener of this.healthListeners) listener(health);
  }
}
