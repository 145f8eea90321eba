import type { Cluster } from 'ioredis';

/** How a store contract sees where keys live: how many masters, and how many of them hold some keys. */
export interface ClusterLayout {
  masters: number;
  /** How many distinct masters the slots of `keys` belong to (1 on a standalone server, 0 for no keys). */
  mastersHolding(keys: readonly string[]): Promise<number>;
}

/**
 * The layout of a cluster client, or of a single server when `cluster` is undefined (a
 * standalone server or the memory store), for store contracts that check that a SCAN or a
 * batch really spanned every master.
 *
 * @example
 * const { masters, mastersHolding } = clusterLayout(driver.name === 'cluster' ? (connection.client as Cluster) : undefined);
 * expect(await mastersHolding(foundKeys)).toBe(masters);
 */
export function clusterLayout(cluster: Cluster | undefined): ClusterLayout {
  return {
    masters: cluster ? cluster.nodes('master').length : 1,
    mastersHolding: async (keys) => {
      if (!cluster) return keys.length > 0 ? 1 : 0;
      const slots = await Promise.all(keys.map((key) => cluster.cluster('KEYSLOT', key)));
      return new Set(slots.map((slot) => cluster.slots[slot][0])).size;
    },
  };
}
