import { isClusterClient } from '../connection/is-cluster.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import {
  clusterStateOf, fullestNode, memoryUsageOf, parseRedisInfo, type ClusterState, type MemoryUsage,
} from './redis-info.parser.js';

/** What one health probe learned from Redis. Fields it could not learn are absent. */
export interface RedisProbeResult {
  reachable: boolean;
  /** Latency of the PING this probe sent, in ms. */
  pingLatencyMs?: number;
  /** Why PING failed (timeout, connection refused, breaker open, ...). */
  error?: string;
  /** INFO replication `role` (`master` / `slave`). */
  role?: string;
  /** Number of masters, for a cluster. */
  masters?: number;
  memory?: MemoryUsage;
  cluster?: ClusterState;
  /** Why INFO or CLUSTER INFO failed while PING worked (e.g. a managed Redis denying INFO). */
  infoError?: string;
}

/**
 * Sends a fresh PING, INFO (replication, memory) and, on a cluster, CLUSTER INFO, in
 * parallel and each bounded by `timeoutMs`, so a paused or unreachable Redis makes the
 * probe fail fast instead of hanging the health endpoint. Every command goes through
 * `connection.execute`, i.e. the circuit breaker.
 */
export async function probeRedis(connection: RedisConnection, timeoutMs: number): Promise<RedisProbeResult> {
  const [ping, info, clusterInfo] = await Promise.allSettled([
    withTimeout(connection.ping(), timeoutMs, 'PING'),
    withTimeout(connection.execute('health.info', (client) => nodeInfos(client)), timeoutMs, 'INFO'),
    connection.topology === 'cluster'
      ? withTimeout(connection.execute('health.cluster-info', (client) => client.call('CLUSTER', 'INFO') as Promise<string>), timeoutMs, 'CLUSTER INFO')
      : Promise.resolve(undefined),
  ]);
  if (ping.status === 'rejected') return { reachable: false, error: describe(ping.reason) };

  const result: RedisProbeResult = { reachable: true, pingLatencyMs: ping.value };
  if (info.status === 'fulfilled') {
    const nodes = info.value;
    result.role = nodes[0]?.fields.role;
    if (connection.topology === 'cluster') result.masters = nodes.length;
    result.memory = fullestNode(nodes.map((n) => memoryUsageOf(n.fields, n.address)));
  } else {
    result.infoError = describe(info.reason);
  }
  if (clusterInfo.status === 'fulfilled' && clusterInfo.value !== undefined) {
    result.cluster = clusterStateOf(parseRedisInfo(clusterInfo.value));
  } else if (clusterInfo.status === 'rejected') {
    result.infoError = describe(clusterInfo.reason);
  }
  return result;
}

interface NodeInfo {
  fields: Record<string, string>;
  address?: string;
}

// Memory is per node: on a cluster one full master rejects writes while the total looks fine,
// so every master is asked and the fullest one reported.
async function nodeInfos(client: RedisClient): Promise<NodeInfo[]> {
  const targets = isClusterClient(client) ? client.nodes('master') : [client];
  return Promise.all(
    targets.map(async (node) => {
      const [replication, memory] = await Promise.all([node.info('replication'), node.info('memory')]);
      const fields = { ...parseRedisInfo(replication), ...parseRedisInfo(memory) };
      return isClusterClient(client) ? { fields, address: `${node.options.host}:${node.options.port}` } : { fields };
    }),
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  // The command may still settle later; the connection records that outcome itself.
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} got no reply within ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
