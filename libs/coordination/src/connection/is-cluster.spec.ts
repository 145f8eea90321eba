import { jest } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { isClusterClient } from './is-cluster.js';

describe('isClusterClient', () => {
  it('tells a Cluster from a standalone client, also one built by another copy of ioredis', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    const redis = new Redis({ lazyConnect: true });
    // A second module instance of ioredis: its Cluster is not an `instanceof` this copy's.
    let foreign: { Cluster: typeof Cluster; Redis: typeof Redis } | undefined;
    await jest.isolateModulesAsync(async () => {
      foreign = await import('ioredis');
    });
    const foreignCluster = new foreign!.Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(foreignCluster instanceof Cluster).toBe(false);
      expect(isClusterClient(cluster)).toBe(true);
      expect(isClusterClient(foreignCluster)).toBe(true);
      expect(isClusterClient(redis)).toBe(false);
      expect(isClusterClient(new foreign!.Redis({ lazyConnect: true }))).toBe(false);
      expect(isClusterClient(undefined)).toBe(false);
      expect(isClusterClient(null)).toBe(false);
    } finally {
      cluster.disconnect();
      foreignCluster.disconnect();
      redis.disconnect();
    }
  });
});
