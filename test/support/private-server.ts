import type { CoordinationModuleOptions } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from './boot.js';
import { privateServerDriver } from './drivers.js';

/** A private redis-server of one test, and the module the test boots on it. */
export interface PrivateServerEnv {
  /** The test's own server: kill, pause, resume or restart it. */
  readonly server: RedisServerHandle;
  /** Boots the module on the server (privateServerDriver's options, then `options`); closed after the test. */
  boot(options?: CoordinationModuleOptions): Promise<BootedModule>;
}

/**
 * Call in a `describe`: each of its tests gets a fresh redis-server (started before it) and the
 * modules it boots with `boot()` are closed after it, before the server stops.
 *
 * @example
 * const env = privateServerPerTest();
 * it('counts a reconnect', async () => {
 *   const app = await env.boot({ health: { pingIntervalMs: 0 } });
 *   await env.server.kill();
 * });
 */
export function privateServerPerTest(): PrivateServerEnv {
  let server: RedisServerHandle | undefined;
  const booted: BootedModule[] = [];
  beforeEach(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    for (const app of booted.splice(0)) await app.close();
    await server?.stop();
    server = undefined;
  });
  return {
    get server(): RedisServerHandle {
      if (!server) throw new Error('privateServerPerTest: the server exists only while a test runs');
      return server;
    },
    async boot(options: CoordinationModuleOptions = {}): Promise<BootedModule> {
      const app = await bootModule({ ...privateServerDriver(this.server).options(), ...options });
      booted.push(app);
      return app;
    },
  };
}
