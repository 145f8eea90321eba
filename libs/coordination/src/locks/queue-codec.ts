/**
 * The two formats of a mutex's wait queue, in TypeScript: the same as `lua/queue.lua` writes and
 * reads on Redis (a store contract test holds them together). `MemoryLockStore` keeps its queue
 * in these formats; waiters read hand-off messages with `decodeHandOff`.
 */

/** A waiter in a mutex's wait queue. */
export interface QueueEntry {
  token: string;
  ttlMs: number;
  owner: string;
}

/** What a releasing holder tells the waiter it hands the lock to. */
export interface HandOff {
  token: string;
  fencingToken: number;
  ttlMs: number;
}

/**
 * `token|ttlMs|owner`: the owner last, since it may contain `|`.
 *
 * @example
 * encodeQueueEntry({ token: 'k1', ttlMs: 30_000, owner: 'worker|1' }); // 'k1|30000|worker|1'
 */
export function encodeQueueEntry(entry: QueueEntry): string {
  return `${entry.token}|${entry.ttlMs}|${entry.owner}`;
}

/** The inverse of `encodeQueueEntry`. */
export function decodeQueueEntry(text: string): QueueEntry {
  const a = text.indexOf('|');
  const b = text.indexOf('|', a + 1);
  return { token: text.slice(0, a), ttlMs: Number(text.slice(a + 1, b)), owner: text.slice(b + 1) };
}

/**
 * `g|token|fencingToken|ttlMs`, on the lock's wake-up channel. Other messages there (`f`,
 * "something was freed") are not hand-offs.
 *
 * @example
 * encodeHandOff({ token: 'k1', fencingToken: 7, ttlMs: 30_000 }); // 'g|k1|7|30000'
 */
export function encodeHandOff(handOff: HandOff): string {
  return `g|${handOff.token}|${handOff.fencingToken}|${handOff.ttlMs}`;
}

/** The hand-off in a wake-up message; null for any other message. */
export function decodeHandOff(message: string): HandOff | null {
  if (!message.startsWith('g|')) return null;
  const [, token, fence, ttl] = message.split('|');
  return { token, fencingToken: Number(fence), ttlMs: Number(ttl) };
}
