import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { isClusterClient } from './is-cluster.js';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';
import { backoffDelay } from './backoff.js';

export type RedisClient = Redis | Cluster;
export type Topology = 'standalone' | 'sentinel' | 'cluster';

/**
 * What a connection is for. `command`: the one auto-pipelined connection every capability
 * shares; `subscriber`: the shared (P)SUBSCRIBE connection; `blocking`: a dedicated connection
 * per blocking reader (XREADGROUP BLOCK, BLPOP); `queue`: a BullMQ worker's own connection
 * (the task queue), which BullMQ requires without a retry limit (`maxRetriesPerRequest: null`,
 * and no command timeout: its lock renewals and job moves wait out a reconnect instead of failing);
 * each Worker duplicates it for its own blocking fetch (BZPOPMIN).
 */
export type ClientRole = 'command' | 'subscriber' | 'blocking' | 'queue';

/** Roles that wait as long as they must: no command timeout, no retry limit. */
const isWaitingRole = (role: ClientRole): boolean => role === 'blocking' || role === 'queue';

/**
 * The topology the connection options describe. A client of the user's is a cluster when
 * ioredis says so (`isCluster`, set by both of its client classes): `instanceof Cluster` alone
 * misses a Cluster from another copy of ioredis (the application's own), and a cluster taken
 * for a standalone server would get scripts whose keys are not all declared.
 *
 * @example
 * topologyOf({ cluster: [{ host: '127.0.0.1', port: 7000 }] }); // 'cluster'
 */
export function topologyOf(connection: ResolvedCoordinationOptions['connection']): Topology {
  const { client } = connection;
  if (connection.cluster || isClusterClient(client)) return 'cluster';
  return connection.sentinels ? 'sentinel' : 'standalone';
}

/**
 * The subscriber connection does not re-send its subscriptions after a reconnect: the event
 * transport re-opens each one itself and handles the answer (a refused SUBSCRIBE fails its
 * listeners). ioredis's own resubscribe leaves a refusal or a connection lost meanwhile as an
 * unhandled rejection. A cluster's subscriber is a node connection of ioredis's own, which
 * handles its resubscribe; the transport re-opens there too.
 */
const NO_AUTO_RESUBSCRIBE: RedisOptions = { autoResubscribe: false };

/**
 * How long ioredis lets a socket it disconnects close gracefully before destroying it. This
 * library disconnects a connection only to drop it (a graceful close QUITs first), and
 * ioredis's default (2 s) leaves a timer that holds the process for 2 s after every connection
 * that is closed while it waits to reconnect (its socket is gone, so the timer is never
 * cleared): the process would outlive `app.close()` after an outage. 0: destroyed at once.
 */
const DROP_AT_ONCE: RedisOptions = { disconnectTimeout: 0 };

/**
 * A blocking connection waits as long as its read asks (XREADGROUP BLOCK), so it has no command
 * timeout (its reader bounds each read itself) and no retry limit, also when it duplicates the
 * user's client: the user's commandTimeout would fail a read that blocks longer while Redis
 * still delivers to it, leaving the entries it took pending for nobody.
 */
const BLOCKING: RedisOptions = { commandTimeout: undefined, maxRetriesPerRequest: null };

/** What a duplicate of the user's client changes for `role` (a cluster's node connections take them as `redisOptions`). */
function duplicateOptions(role: ClientRole, cluster: boolean): RedisOptions {
  if (isWaitingRole(role)) return { ...DROP_AT_ONCE, ...BLOCKING };
  // A cluster's subscriber is a node connection of ioredis's own, which handles its resubscribe.
  return role === 'subscriber' && !cluster ? { ...DROP_AT_ONCE, ...NO_AUTO_RESUBSCRIBE } : DROP_AT_ONCE;
}

/**
 * Creates an ioredis client for one role: standalone (url or host/port), Sentinel or Cluster,
 * with capped exponential backoff and jitter on reconnect. With a client the user passed in,
 * every role gets a duplicate of it (same server, same settings; a `blocking` or `queue` one
 * without a command timeout or retry limit).
 *
 * @example
 * const subscriber = createRedisClient(options, 'subscriber');
 */
export function createRedisClient(options: ResolvedCoordinationOptions, role: ClientRole): RedisClient {
  const c = options.connection;
  if (isClusterClient(c.client)) return c.client.duplicate([], { redisOptions: duplicateOptions(role, true) });
  if (c.client) return c.client.duplicate(duplicateOptions(role, false));
  const { baseDelayMs, maxDelayMs } = options.reconnect;
  const retryStrategy = (times: number) => backoffDelay(times, baseDelayMs, maxDelayMs);
  const common: RedisOptions = {
    username: c.username,
    password: c.password,
    db: c.db,
    tls: c.tls === true ? {} : c.tls === false ? undefined : (c.tls as RedisOptions['tls']),
    connectTimeout: c.connectTimeoutMs,
    connectionName: `coord:${options.instanceId}:${role}`,
    retryStrategy,
    lazyConnect: role === 'command',
    enableAutoPipelining: role === 'command',
    // Blocking reads wait as long as they are told to; commands fail fast so the
    // breaker and the failure policies can act instead of piling up a queue.
    maxRetriesPerRequest: isWaitingRole(role) ? null : 1,
    commandTimeout: role === 'command' ? c.commandTimeoutMs : undefined,
    ...DROP_AT_ONCE,
    ...(role === 'subscriber' ? NO_AUTO_RESUBSCRIBE : {}),
  };
  if (c.cluster) {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      clusterRetryStrategy: retryStrategy,
      lazyConnect: role === 'command',
      enableAutoPipelining: role === 'command',
      scaleReads: 'master',
    };
    return new Cluster(c.cluster, clusterOptions);
  }
  if (c.sentinels) return new Redis({ ...common, sentinels: c.sentinels, name: c.sentinelName });
  if (c.url) return new Redis(c.url, common);
  return new Redis({ ...common, host: c.host ?? '127.0.0.1', port: c.port ?? 6379 });
}
