import { type Redis } from 'ioredis';
import { isClusterClient } from './is-cluster.js';
import type { RedisClient } from './redis-client.factory.js';
import type { RedisConnection } from './redis-connection.js';

/** Keys asked of a node per SCAN call, unless the caller says otherwise. */
const SCAN_COUNT = 500;

/**
 * The nodes a pattern scan must visit: every master of a cluster (each holds its own slots),
 * or the one server. Throws a CLUSTERDOWN error (a transport error: RedisUnavailableError
 * through the connection) when a cluster client knows no master yet.
 *
 * @example
 * const nodes = masterNodes(connection.client); // [Redis, Redis, Redis] on a 3-master cluster
 */
export function masterNodes(client: RedisClient): Redis[] {
  if (!isClusterClient(client)) return [client];
  const nodes = client.nodes('master');
  if (nodes.length === 0) throw new Error('CLUSTERDOWN no master node known to the client');
  return nodes;
}

/**
 * SCAN MATCH `pattern` on every master (one after another), yielding each non-empty batch as
 * it arrives, so a caller holds one batch at a time however many keys match. Every SCAN call
 * goes through the connection's breaker under `operation`, so an outage fails as
 * RedisUnavailableError. SCAN's guarantee holds per node: every key present from start to end
 * is yielded, possibly more than once; keys written or deleted meanwhile may or may not be.
 *
 * @example
 * for await (const keys of scanMasters(connection, 'sessions.scan', 'coord:acme:session:{*}:*')) {
 *   count += keys.length;
 * }
 */
export async function* scanMasters(connection: RedisConnection, operation: string, pattern: string, count = SCAN_COUNT): AsyncGenerator<string[]> {
  const nodes = await connection.execute(operation, async (client) => masterNodes(client));
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await connection.execute(operation, () => node.scan(cursor, 'MATCH', pattern, 'COUNT', count));
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== '0');
  }
}
