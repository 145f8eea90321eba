import { CircuitOpenError, RedisUnavailableError } from '../errors/coordination.error.js';
import type { HistogramHandle } from '../metrics/metrics-registry.js';
import { Admission, type CircuitBreaker } from './circuit-breaker.js';
import type { ConnectionHealthTracker } from './connection-health.tracker.js';
import { evalAlone, isClusterRedirect, isSlotInMotion } from './cluster-redirect.js';
import type { ConnectionMetrics } from './connection-metrics.js';
import { isClusterClient } from './is-cluster.js';
import type { LuaScript } from './lua-script.js';
import type { RedisClient } from './redis-client.factory.js';
import { isTransportError } from './redis-errors.js';
import { operationOfScript } from './script-operations.js';

/**
 * Runs commands and Lua scripts on the command connection through the circuit breaker, so
 * that an outage fails fast instead of queueing. Transport failures become
 * `RedisUnavailableError` (while the breaker is open: its subclass `CircuitOpenError`) and
 * are recorded in the connection health; reply errors pass through unchanged.
 *
 * This is the hot path of every capability: one breaker check, one status read, and the
 * command itself. Nothing is allocated per call beyond what the command needs. While the
 * module's metrics are exported through an OpenTelemetry SDK, the round trip is timed into
 * `redis_command_ms` (two clock reads and one closure more; without an SDK, one property read).
 *
 * @example
 * const executor = new CommandExecutor(command, breaker, tracker, options.connection.commandTimeoutMs, meter);
 * await executor.execute('get', (client) => client.get(key));
 * await executor.runScript(ACQUIRE, [key], [token, ttlMs]); // fails naming 'locks.acquire'
 */
export class CommandExecutor {
  /** `redis_command_ms`, observed while `meter.timingCommands`. */
  private readonly latency: HistogramHandle;

  constructor(
    private readonly client: RedisClient,
    private readonly breaker: CircuitBreaker,
    private readonly health: ConnectionHealthTracker,
    /** Bound on the half-open probe, see run(). */
    private readonly probeTimeoutMs: number,
    private readonly meter: ConnectionMetrics,
  ) {
    this.latency = meter.commandLatency;
  }

  /**
   * Runs `fn` against the command connection through the circuit breaker. `operation` names
   * the call in errors, in the terms of the public API (`rateLimit.reset`, `locks.isLocked`).
   */
  execute<T>(operation: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.run(operation, fn);
  }

  /**
   * Runs a Lua script through the breaker: EVALSHA, and EVAL once after a NOSCRIPT (a
   * restarted or new node). EVALSHA is sent directly rather than through ioredis
   * `defineCommand`: a defined command with a variable key count is routed on a cluster
   * auto-pipeline by its first argument (the key count), while ioredis knows where the keys
   * of EVALSHA itself are; and nothing has to be defined per client before the first call.
   * Errors name the public operation the script serves (see script-operations.ts).
   */
  runScript<T>(script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<T> {
    const admission = this.breaker.admit();
    if (admission !== Admission.Pass || this.meter.timingCommands || (this.health.everReady && this.client.status !== 'ready')) {
      return this.admitted(script, (client) => evalScript<T>(client, script, keys, args), admission);
    }
    // The hot path of every script call of every capability: no async wrapper (NOSCRIPT is
    // handled on rejection), and the key and argument arrays handed to ioredis as they are (it
    // flattens them into the command once) instead of spread into a copy.
    let pending: Promise<unknown>;
    try {
      pending = (this.client as unknown as ScriptCalls).evalsha(script.sha, keys.length, keys, args);
    } catch (error) {
      return Promise.reject(this.failure(script, error));
    }
    return pending.then(this.passed, (error: unknown) => this.scriptFailed(script, keys, args, error)) as Promise<T>;
  }

  /**
   * A script call of the hot path failed: EVAL once after a NOSCRIPT (a restarted or new node),
   * sent again on its own after a cluster redirection that came back raw from the auto-pipeline
   * (see cluster-redirect.ts), else the usual failure.
   */
  private scriptFailed(script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>, error: unknown): Promise<unknown> {
    if (isClusterRedirect(error) && isClusterClient(this.client)) {
      return evalAlone(this.client, script, keys, args).then(this.passed, (retryError: unknown) => Promise.reject(this.failure(script, retryError)));
    }
    if (!isNoScript(error)) return Promise.reject(this.failure(script, error));
    let pending: Promise<unknown>;
    try {
      pending = (this.client as unknown as ScriptCalls).eval(script.lua, keys.length, keys, args);
    } catch (evalError) {
      return Promise.reject(this.failure(script, evalError));
    }
    return pending.then(this.passed, (evalError: unknown) => Promise.reject(this.failure(script, evalError)));
  }

  /** `operation` is a name, or a script whose public operation is looked up only if the call fails. */
  private run<T>(operation: string | LuaScript, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.admitted(operation, fn, this.breaker.admit());
  }

  /**
   * run() once the breaker has answered `admission` (admit() is called once per call: a probe
   * admission changes its state). The common case (breaker closed, connection ready) chains one
   * `then` on the command's own promise instead of wrapping it in an async function: it runs on
   * every call of every capability.
   */
  private admitted<T>(operation: string | LuaScript, fn: (client: RedisClient) => Promise<T>, admission: Admission): Promise<T> {
    if (admission !== Admission.Pass || (this.health.everReady && this.client.status !== 'ready')) {
      return this.runGuarded(operation, fn, admission);
    }
    const timed = this.meter.timingCommands;
    const started = timed ? performance.now() : 0;
    let pending: Promise<T>;
    try {
      pending = fn(this.client);
    } catch (error) {
      return Promise.reject(this.failure(operation, error));
    }
    if (!timed) {
      return pending.then(this.passed as (result: T) => T, (error: unknown) => Promise.reject(this.failure(operation, error)));
    }
    const latency = this.latency;
    return pending.then(
      (result) => {
        latency.observe(performance.now() - started);
        return this.passed(result);
      },
      (error: unknown) => {
        // A reply error is a round trip; a transport failure is no latency (the breaker counts it).
        if (!isTransportError(error)) latency.observe(performance.now() - started);
        return Promise.reject(this.failure(operation, error));
      },
    );
  }

  /** The slow path: a refused call, a connection that is not ready, or a half-open probe (bounded). */
  private async runGuarded<T>(operation: string | LuaScript, fn: (client: RedisClient) => Promise<T>, admission: Admission): Promise<T> {
    if (admission === Admission.Refused) throw new CircuitOpenError(this.breaker.retryAtMs, nameOf(operation));
    if (this.health.everReady && this.client.status !== 'ready') {
      const cause = new Error(`connection is ${this.client.status}`);
      this.health.recordError(cause);
      this.breaker.onFailure();
      throw new RedisUnavailableError(nameOf(operation), cause);
    }
    if (admission === Admission.Probe) this.meter.probing();
    const started = this.meter.timingCommands ? performance.now() : -1;
    try {
      // A probe that never answers (a client without a command timeout, a paused server)
      // would leave the breaker half-open for good; bound it.
      const pending = fn(this.client);
      const result = admission === Admission.Probe ? await withTimeout(pending, this.probeTimeoutMs) : await pending;
      if (started >= 0) this.latency.observe(performance.now() - started);
      return this.passed(result);
    } catch (error) {
      if (started >= 0 && !isTransportError(error)) this.latency.observe(performance.now() - started);
      throw this.failure(operation, error);
    }
  }

  /** A call went through: the breaker hears of it. Bound once, passed to `then` on the hot path. */
  private readonly passed = <T>(result: T): T => {
    this.breaker.onSuccess();
    return result;
  };

  /**
   * What a failed call throws: a reply error unchanged (the server answered, so the breaker
   * counts a success), a transport failure as RedisUnavailableError, recorded in the health and
   * the breaker; a call refused because its cluster slot is moving as RedisUnavailableError too,
   * but counted like a reply (see isSlotInMotion).
   */
  private failure(operation: string | LuaScript, error: unknown): unknown {
    if (!isTransportError(error)) {
      this.breaker.onSuccess();
      return error;
    }
    // The node answered, only not for this slot now (a migration): the call fails, but the
    // connection is fine and opening the breaker would fail the calls on every other slot too.
    if (isSlotInMotion(error)) {
      this.breaker.onSuccess();
      return new RedisUnavailableError(nameOf(operation), error);
    }
    this.health.recordError(error);
    this.breaker.onFailure();
    return new RedisUnavailableError(nameOf(operation), error);
  }
}

const nameOf = (operation: string | LuaScript): string => (typeof operation === 'string' ? operation : operationOfScript(operation));

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

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * ioredis flattens nested arrays of a command's arguments (`Command` runs `args.flat()`), so keys
 * and arguments go in as arrays; its typings only list the spread form.
 */
interface ScriptCalls {
  evalsha(sha: string, numKeys: number, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<unknown>;
  eval(lua: string, numKeys: number, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<unknown>;
}

/** EVALSHA `script` on `client`, loading it with EVAL when the node does not know it yet (the guarded and timed paths). */
async function evalScript<T>(
  client: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number | Buffer>,
): Promise<T> {
  try {
    return (await (client as unknown as ScriptCalls).evalsha(script.sha, keys.length, keys, args)) as T;
  } catch (error) {
    if (isClusterRedirect(error) && isClusterClient(client)) return (await evalAlone(client, script, keys, args)) as T;
    if (!isNoScript(error)) throw error;
    return (await (client as unknown as ScriptCalls).eval(script.lua, keys.length, keys, args)) as T;
  }
}
