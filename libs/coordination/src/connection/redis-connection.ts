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
  private readonly healthListeners = new Set<(health: ConnectionHealth) => void>();
  private readonly unwatchers: Array<() => void> = [];
  private pingTimer?: NodeJS.Timeout;
  private state: Omit<ConnectionHealth, 'status' | 'breaker' | 'topology'> = { reconnectCount: 0 };
  private lastStatus: HealthStatus = 'down';
  private everReady = false;

  constructor(private readonly options: ResolvedCoordinationOptions) {
    const c = options.connection;
    this.topology = c.cluster || c.client instanceof Cluster ? 'cluster' : c.sentinels ? 'sentinel' : 'standalone';
    // Wall-clock time on purpose: a ManualClock injected for the memory stores must not freeze the breaker.
    this.breaker = new CircuitBreaker(options.breaker);
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
   * failures become `RedisUnavailableError` (while the breaker is open: its subclass
   * `CircuitOpenError`) so that
   * callers can apply their fallback policy; reply errors pass through unchanged.
   */
  async execute<T>(operation: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    const probe = this.breaker.assertCanPass();
    if (this.everReady && this.command.status !== 'ready') {
      const cause = new Error(`connection is ${this.command.status}`);
      this.recordError(cause);
      this.breaker.onFailure();
      throw new RedisUnavailableError(operation, cause);
    }
    try {
      // A probe that never answers (a client without a command timeout, a paused server)
      // would leave the breaker half-open for good; bound it.
      const pending = fn(this.command);
      const result = probe ? await withTimeout(pending, this.options.connection.commandTimeoutMs) : await pending;
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

  /**
   * Runs a Lua script through `execute()`: EVALSHA, and EVAL once after a NOSCRIPT (a
   * restarted or new node). EVALSHA is sent directly rather than through ioredis
   * `defineCommand`: a defined command with a variable key count is routed on a cluster
   * auto-pipeline by its first argument (the key count), while ioredis knows where the keys
   * of EVALSHA itself are; and nothing has to be defined per client before the first call.
   */
  runScript<T>(script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<T> {
    return this.execute(script.name, (client) => evalScript<T>(client, script, keys, args));
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

  /**
   * Closes every connection this module opened (never a client the user passed in), and
   * returns once their sockets are gone, so that nothing outlives the application.
   */
  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    await Promise.all(this.owned.map((client) => closeClient(client)));
    for (const unwatch of this.unwatchers.splice(0)) unwatch();
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
    const handlers: Record<string, (...args: any[]) => void> = {
      ready: () => (role === 'command' ? this.markReady() : this.emitHealth()),
      error: (error: Error) => this.recordError(error),
      reconnecting: () => {
        if (role === 'command') this.state.reconnectCount += 1;
        this.emitHealth();
      },
      close: () => this.emitHealth(),
      end: () => this.emitHealth(),
    };
    for (const [event, handler] of Object.entries(handlers)) client.on(event, handler);
    // A client the user passed in outlives this module: it must not keep our listeners (and us).
    this.unwatchers.push(() => {
      for (const [event, handler] of Object.entries(handlers)) client.off(event, handler);
    });
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

/**
 * QUIT a ready connection (so pending replies arrive) and wait for `end`; disconnect
 * otherwise, or if that did not happen (disconnecting a Cluster that has already ended
 * would leave it `disconnecting`). Each step is bounded, so a dead server cannot hold up
 * shutdown.
 */
/**
 * Bounds of the shutdown steps: generous, because a loaded host can take a while to close a
 * cluster's node connections, yet finite, so a dead server cannot hold up shutdown.
 */
const QUIT_TIMEOUT_MS = 2_000;
const END_TIMEOUT_MS = 3_000;

async function closeClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  if (client.status === 'ready') {
    const quit = await within(client.quit(), QUIT_TIMEOUT_MS).catch(() => false);
    if (quit && (await within(ended, END_TIMEOUT_MS))) return;
  }
  const wasReconnecting = client.status === 'reconnecting';
  client.disconnect();
  // A standalone client disconnected while waiting to reconnect has no socket and no timer
  // left, and never emits `end`: nothing to wait for. A Cluster always ends.
  if (client instanceof Cluster || !wasReconnecting) await within(ended, END_TIMEOUT_MS);
}

/** `promise`, or a "Command timed out" transport error after `ms`; leaves no timer behind. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Command timed out (breaker probe)')), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` settled within `ms`; leaves no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** EVALSHA `script` on `client`, loading it with EVAL when the node does not know it yet. */
async function evalScript<T>(
  client: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number | Buffer>,
): Promise<T> {
  try {
    return (await client.evalsha(script.sha, keys.length, ...keys, ...args)) as T;
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return (await client.eval(script.lua, keys.length, ...keys, ...args)) as T;
  }
}
