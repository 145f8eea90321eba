/**
 * The formats of a mutex's wait queue, in TypeScript: the same as `lua/queue.lua` writes and
 * reads on Redis (a store contract test holds them together). `MemoryLockStore` keeps its queue
 * in these formats; waiters read hand-off and new-head messages with `decodeHandOff` and
 * `decodeNewHead`.
 */

/** A waiter in a mutex's wait queue. */
export interface QueueEntry {
  token: string;
  ttlMs: number;
  owner: string;
}

/** What a releasing holder (or a head that took the free lock) tells the waiters. */
export interface HandOff {
  token: string;
  fencingToken: number;
  ttlMs: number;
  /** The waiter now at the head of the queue (it waits for this grant to expire); null when none. */
  nextHead: string | null;
}

/** The head of the queue moved without a grant (a waiter left, expired waiters were dropped). */
export interface NewHead {
  head: string;
  /** Until the lock expires; negative when it is free (the head takes it now). */
  pttlMs: number;
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
 * `g|token|fencingToken|ttlMs|nextHead`, on the lock's wake-up channel. Other messages there
 * (`h|...`, below; `f`, "something was freed") are not hand-offs.
 *
 * @example
 * encodeHandOff({ token: 'k1', fencingToken: 7, ttlMs: 30_000, nextHead: 'k2' }); // 'g|k1|7|30000|k2'
 */
export function encodeHandOff(handOff: HandOff): string {
  return `g|${handOff.token}|${handOff.fencingToken}|${handOff.ttlMs}|${handOff.nextHead ?? ''}`;
}

/** The hand-off in a wake-up message; null for any other message. */
export function decodeHandOff(message: string): HandOff | null {
  if (!message.startsWith('g|')) return null;
  const [, token, fence, ttl, nextHead] = message.split('|');
  return { token, fencingToken: Number(fence), ttlMs: Number(ttl), nextHead: nextHead || null };
}

/**
 * `h|head|pttlMs`, on the lock's wake-up channel.
 *
 * @example
 * encodeNewHead({ head: 'k2', pttlMs: 1_200 }); // 'h|k2|1200'
 */
export function encodeNewHead(newHead: NewHead): string {
  return `h|${newHead.head}|${newHead.pttlMs}`;
}

/** The new head in a wake-up message; null for any other message. */
export function decodeNewHead(message: string): NewHead | null {
  if (!message.startsWith('h|')) return null;
  const [, head, pttl] = message.split('|');
  return { head, pttlMs: Number(pttl) };
}
