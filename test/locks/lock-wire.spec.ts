import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { topologyOf } from '../../libs/coordination/src/connection/redis-client.factory.js';
import { LOCK_SCRIPTS } from '../../libs/coordination/src/locks/lock.scripts.js';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import { REDIS_DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { lockTestApp, type LockTestApp } from './lock-test-app.js';

/**
 * Which keys the uncontended mutex scripts are sent (see lua/try-acquire.lua): on a standalone
 * server only the lock key (the scripts derive the others); on a cluster every key they may
 * touch is declared, so a slot migration sees them all (TRYAGAIN / ASK).
 */
describe.each(REDIS_DRIVERS)('mutex script keys on the wire ($name, MONITOR)', (driver) => {
  let app: LockTestApp;
  let client: Redis | undefined;
  let monitor: Redis | undefined;

  afterEach(async () => {
    monitor?.disconnect();
    client?.disconnect();
    await app?.close();
  });

  /** A MONITOR connection to the server (on a cluster: the master owning `key`'s slot). */
  async function monitorOwnerOf(key: string): Promise<Redis> {
    if (driver.name === 'standalone') {
      client = new Redis(testRedisUrl());
    } else {
      const cluster = new Cluster(testClusterNodes());
      try {
        const slot = Number(await cluster.cluster('KEYSLOT', key));
        const [host, port] = splitHostPort(cluster.slots[slot][0]);
        client = new Redis({ host, port });
      } finally {
        cluster.disconnect();
      }
    }
    return client.monitor();
  }

  it('an uncontended acquire and release: try-acquire and release with the keys the topology needs', async () => {
    app = await lockTestApp(driver);
    const k = app.keys.mutex(app.core.tenants.resolve(undefined, 'test'), 'wire');
    monitor = await monitorOwnerOf(k.lock);
    const seen: Array<{ script: string; keys: string[] }> = [];
    const names = new Map(Object.values(LOCK_SCRIPTS).map((s) => [s.sha, s.name]));
    monitor.on('monitor', (_time: string, args: string[]) => {
      // EVALSHA only: MONITOR lists it before it runs, so also when a NOSCRIPT makes the
      // client send the same keys again with EVAL (the source).
      if (args[0]?.toLowerCase() !== 'evalsha' || !args[3]?.startsWith(`${app.prefix}:`)) return;
      seen.push({ script: names.get(args[1]) ?? args[1], keys: args.slice(3, 3 + Number(args[2])) });
    });

    const lock = await app.locks.acquire('wire');
    await lock.release();
    await until(() => seen.length >= 2, { timeoutMs: 10_000, message: () => `2 scripts seen by MONITOR (got ${JSON.stringify(seen)})` });

    const expected = driver.name === 'standalone'
      ? [
          { script: LOCK_SCRIPTS.tryAcquire.name, keys: [k.lock] },
          { script: LOCK_SCRIPTS.release.name, keys: [k.lock] },
        ]
      : [
          { script: LOCK_SCRIPTS.tryAcquire.name, keys: [k.lock, k.fence, k.queueExp] },
          { script: LOCK_SCRIPTS.release.name, keys: [k.lock, k.fence, k.queue, k.queueExp, k.queueSeq] },
        ];
    expect(seen).toEqual(expected);
  });
});

describe('topologyOf', () => {
  it("detects a user's Cluster client by ioredis's own flag, also one from another copy of ioredis", async () => {
    let other: { Cluster: typeof Cluster; Redis: typeof Redis } | undefined;
    // A second copy of ioredis, as an application with its own ioredis installed would pass.
    await jest.isolateModulesAsync(async () => {
      other = await import('ioredis');
    });
    const foreign = new other!.Cluster(testClusterNodes(), { lazyConnect: true });
    const standalone = new other!.Redis(testRedisUrl(), { lazyConnect: true });
    const own = new Cluster(testClusterNodes(), { lazyConnect: true });
    try {
      expect(foreign).not.toBeInstanceOf(Cluster);
      const of = (client: unknown) => topologyOf({ client } as unknown as Parameters<typeof topologyOf>[0]);
      expect(of(foreign)).toBe('cluster');
      expect(of(standalone)).toBe('standalone');
      expect(of(own)).toBe('cluster');
    } finally {
      foreign.disconnect();
      standalone.disconnect();
      own.disconnect();
    }
  });
});

function splitHostPort(node: string): [string, number] {
  const at = node.lastIndexOf(':');
  return [node.slice(0, at), Number(node.slice(at + 1))];
}
