import { randomBytes } from 'node:crypto';
import type { CoordinationModuleOptions } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { bootModule, type BootedModule, type BootExtras } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** A bound on recoveries and deliveries (fast reconnects below), not a speed assertion. */
export const RECOVERY_MS = 15_000;

/**
 * Options of A, the instance behind the proxy: quick reconnects, a breaker that opens after
 * three failures and probes again after 300 ms, a background PING every 100 ms (which is what
 * opens the breaker of an idle instance).
 */
export const FAST_FAILURE: CoordinationModuleOptions = {
  reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
  breaker: { failureThreshold: 3, openMs: 300 },
  health: { pingIntervalMs: 100 },
};

/**
 * Two module instances on one private redis-server: `a` through a TCP proxy the test cuts,
 * freezes or delays, `b` direct. Only `a` gets the test's options (short timeouts, fast
 * failure detection); `b`, the healthy instance, runs with the defaults (and the key prefix they
 * share), so a loaded machine cannot make it fail the way the test makes `a` fail.
 */
export interface PartitionPair {
  readonly server: RedisServerHandle;
  readonly proxy: TcpProxy;
  /** The instance behind the proxy; its instanceId is `aId`. */
  readonly a: BootedModule;
  readonly b: BootedModule;
  readonly aId: string;
  readonly prefix: string;
}

/**
 * Call in a `describe`: one redis-server and one proxy for the file; each test calls `boot()` for
 * its pair of instances (same key prefix, one per test), closed after the test with the proxy
 * restored first.
 *
 * @example
 * const env = partitionEnv();
 * it('opens A's breaker', async () => {
 *   const { a, b, proxy } = await env.boot();
 *   proxy.cut({ role: 'command' });
 * });
 */
export function partitionEnv(): {
  /** `options` are A's (over FAST_FAILURE); B gets the defaults with the same prefix. */
  boot(options?: CoordinationModuleOptions, extras?: { a?: BootExtras; b?: BootExtras }): Promise<PartitionPair>;
} {
  let server: RedisServerHandle | undefined;
  let proxy: TcpProxy | undefined;
  const booted: BootedModule[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy({ host: server.host, port: server.port });
  });
  afterEach(async () => {
    proxy?.restore();
    for (const app of booted.splice(0)) await app.close();
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });
  return {
    async boot(options = {}, extras = {}) {
      if (!server || !proxy) throw new Error('partitionEnv: boot() only inside a test');
      const prefix = uniquePrefix('part');
      const aId = `part-a-${randomBytes(3).toString('hex')}`;
      const a = await bootModule({
        ...FAST_FAILURE, ...options, prefix, instanceId: aId, connection: { ...options.connection, url: `redis://127.0.0.1:${proxy.port}` },
      }, extras.a);
      booted.push(a);
      const b = await bootModule({ prefix, instanceId: `part-b-${randomBytes(3).toString('hex')}`, connection: { url: server.url } }, extras.b);
      booted.push(b);
      return { server, proxy, a, b, aId, prefix };
    },
  };
}

/** Resolves once `app`'s breaker is `state` (its health and the `redis_breaker_state` gauge agree). */
export async function breakerIs(app: BootedModule, state: 'open' | 'closed', message: string): Promise<void> {
  const level = state === 'open' ? 2 : 0;
  await until(() => {
    const health = app.core.connection!.health();
    return health.breaker === state && app.core.metrics.gauge('redis_breaker_state') === level;
  }, { timeoutMs: RECOVERY_MS, message: () => `${message} (health: ${JSON.stringify(app.core.connection!.health())})` });
}

/** Resolves once `app`'s connections are all up again (command and subscriber ready, breaker closed). */
export async function healthUp(app: BootedModule, message: string): Promise<void> {
  await until(() => app.core.connection!.health().status === 'up', {
    timeoutMs: RECOVERY_MS, message: () => `${message} (health: ${JSON.stringify(app.core.connection!.health())})`,
  });
}
