import { isClusterClient } from './is-cluster.js';
import type { RedisClient } from './redis-client.factory.js';

/**
 * Bounds of the shutdown steps: generous, because a loaded host can take a while to close a
 * cluster's node connections, yet finite, so a dead server cannot hold up shutdown.
 */
const QUIT_TIMEOUT_MS = 2_000;
const END_TIMEOUT_MS = 3_000;

/**
 * QUITs a ready connection (so pending replies arrive) and waits for `end`; disconnects
 * otherwise, or if that did not happen (disconnecting a Cluster that has already ended
 * would leave it `disconnecting`). Each step is bounded, so a dead server cannot hold up
 * shutdown.
 *
 * @example
 * await Promise.all(owned.map((client) => closeClient(client)));
 */
export async function closeClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  if (client.status === 'ready') {
    const quit = await settlesWithin(client.quit(), QUIT_TIMEOUT_MS).catch(() => false);
    if (quit && (await settlesWithin(ended, END_TIMEOUT_MS))) return;
  }
  const wasReconnecting = client.status === 'reconnecting';
  client.disconnect();
  // A standalone client disconnected while waiting to reconnect has no socket and no timer
  // left, and never emits `end`: nothing to wait for. A Cluster always ends.
  if (isClusterClient(client) || !wasReconnecting) await settlesWithin(ended, END_TIMEOUT_MS);
}

/**
 * Whether `promise` settled within `ms`; leaves no timer behind.
 *
 * @example
 * if (!(await settlesWithin(worker.close(), 1_000))) worker.halt();
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
