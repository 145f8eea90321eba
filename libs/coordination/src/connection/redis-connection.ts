import { Logger } from '@nestjs/common';
import { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { closeClient } from './close-client.js';
import { CommandExecutor } from './command.executor.js';
import { ConnectionHealthTracker, type ConnectionHealth } from './connection-health.tracker.js';
import { ConnectionMetrics } from './connection-metrics.js';
import type { LuaScript } from './lua-script.js';
import { createRedisClient, topologyOf, type RedisClient, type Topology } from './redis-client.factory.js';

/**
 * The ioredis connections of one module instance, one per role: commands, a shared
 * subscriber, and dedicated connections for blocking reads. A thin facade over the parts
 * that do the work: `createRedisClient` (clients per role, backoff), `ConnectionHealthTracker`
 * (health from client events and a periodic PING) and `CommandExecutor` (commands and
 * scripts through the circuit breaker). It owns the clients it created and closes them.
 *
 * @example
 * const connection = new RedisConnection(resolveOptions({ connection: { url: 'redis://localhost:6379' } }));
 * await connection.connect();
 * await connection.execute('get', (client) => client.get(key));
 * await connection.close();
 */
export class RedisConnection {
  readonly topology: Topology;
  readonly breaker: CircuitBreaker;
  private readonly logger = new Logger('Coordination:Redis');
  private readonly command: RedisClient;
  private readonly owned: RedisClient[] = [];
  private readonly tracker: ConnectionHealthTracker;
  private readonly commands: CommandExecutor;
  private subscriberClient?: RedisClient;

  /**
   * `metrics`: the module's registry, which receives the connection's metrics (see
   * ConnectionMetrics); a private one by default.
   */
  constructor(private readonly options: ResolvedCoordinationOptions, metrics: MetricsRegistry = new MetricsRegistry()) {
    this.topology = topologyOf(options.connection);
    // Wall-clock time on purpose: a ManualClock injected for the memory stores must not freeze the breaker.
    this.breaker = new CircuitBreaker(options.breaker);
    const meter = new ConnectionMetrics(metrics);
    meter.watchBreaker(this.breaker);
    this.command = options.connection.client ?? this.own(createRedisClient(options, 'command'));
    this.tracker = new ConnectionHealthTracker(this.command, this.topology, this.breaker, options.health, meter);
    this.tracker.watch(this.command, 'command');
    this.commands = new CommandExecutor(this.command, this.breaker, this.tracker, options.connection.commandTimeoutMs, meter);
  }

  /** The command connection. Prefer `execute()`, which applies the breaker. */
  get client(): RedisClient {
    return this.command;
  }

  /** Waits until the command connection is ready, or `connectTimeoutMs` passes (then logs and goes on degraded). */
  async connect(): Promise<void> {
    this.tracker.startPinging(() => this.ping());
    if (this.command.status === 'ready') return this.tracker.markReady();
    if (this.command.status === 'wait') this.command.connect().catch(() => undefined);
    const { connectTimeoutMs } = this.options.connection;
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), connectTimeoutMs);
      this.command.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!ready) {
      this.logger.warn(`Redis not ready after ${connectTimeoutMs}ms; capabilities follow their failure policy until it is`);
    }
  }

  /** The shared subscriber connection (created on first use). It may only (p)subscribe. */
  subscriber(): RedisClient {
    if (!this.subscriberClient) {
      this.subscriberClient = this.own(createRedisClient(this.options, 'subscriber'));
      this.tracker.watch(this.subscriberClient, 'subscriber');
    }
    return this.subscriberClient;
  }

  /**
   * A new connection for blocking reads (XREADGROUP BLOCK, BLPOP); closed with the module, or
   * earlier by `releaseClient`. Not counted towards the health status (the command connection
   * tells it), but its errors are recorded as the health's `lastError` like the others': without
   * a listener ioredis would print each one ("Unhandled error event"), e.g. every reconnect
   * attempt during a Sentinel failover.
   */
  createBlockingClient(): RedisClient {
    const client = this.own(createRedisClient(this.options, 'blocking'));
    client.on('error', this.recordError);
    return client;
  }

  /**
   * A new connection for BullMQ (role `queue`: no retry limit, no command timeout, as BullMQ
   * requires of a worker's connection); closed with the module, or earlier by `releaseClient`.
   * Each task worker has its own (a close that must drop it leaves the others running), which the
   * Worker duplicates for its blocking fetch.
   *
   * @example
   * const worker = new Worker(queueName, processor, { connection: connection.createQueueClient(), prefix });
   */
  createQueueClient(): RedisClient {
    // Not watched for health, like blocking connections: the command connection tells it.
    return this.own(createRedisClient(this.options, 'queue'));
  }

  /**
   * Closes a blocking or queue connection before the module closes (a consumer that stops), so that one
   * started and stopped many times does not accumulate them. A command in flight on it rejects.
   */
  async releaseClient(client: RedisClient): Promise<void> {
    const index = this.owned.indexOf(client);
    if (index === -1 || client === this.command || client === this.subscriberClient) return;
    this.owned.splice(index, 1);
    await closeClient(client);
  }

  /**
   * Runs `fn` against the command connection through the circuit breaker. Transport
   * failures become `RedisUnavailableError` (while the breaker is open: its subclass
   * `CircuitOpenError`) so that callers can apply their fallback policy; reply errors pass
   * through unchanged. See CommandExecutor.
   */
  execute<T>(operation: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.commands.execute(operation, fn);
  }

  /** Runs a Lua script (EVALSHA, EVAL after NOSCRIPT) through the circuit breaker. See CommandExecutor. */
  runScript<T>(script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<T> {
    return this.commands.runScript(script, keys, args);
  }

  /** Sends a PING through the breaker, records its latency and returns it in ms. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.commands.execute('ping', sendPing);
    return this.tracker.recordPing(performance.now() - started);
  }

  health(): ConnectionHealth {
    return this.tracker.snapshot();
  }

  /** Called with the new health on every status change. Returns an unsubscribe function. */
  onHealthChange(listener: (health: ConnectionHealth) => void): () => void {
    return this.tracker.onChange(listener);
  }

  /**
   * Closes every connection this module opened (never a client the user passed in), and
   * returns once their sockets are gone, so that nothing outlives the application.
   */
  async close(): Promise<void> {
    this.tracker.stopPinging();
    await Promise.all(this.owned.map((client) => closeClient(client)));
    // Detached after closing, so the health still follows the clients while they go.
    this.tracker.detach();
  }

  private readonly recordError = (error: Error): void => this.tracker.recordError(error);

  private own(client: RedisClient): RedisClient {
    this.owned.push(client);
    return client;
  }
}

const sendPing = (client: RedisClient): Promise<string> => client.ping();
