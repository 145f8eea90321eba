import { Cluster } from 'ioredis';

/**
 * Whether `client` is a Redis Cluster client. ioredis sets `isCluster` on both of its client
 * classes; `instanceof Cluster` alone misses a Cluster built by another copy of ioredis (the
 * application's own, passed as `connection.client`).
 *
 * @example
 * const nodes = isClusterClient(client) ? client.nodes('master') : [client];
 */
export function isClusterClient(client: unknown): client is Cluster {
  return client instanceof Cluster || (client as { isCluster?: unknown } | null | undefined)?.isCluster === true;
}
