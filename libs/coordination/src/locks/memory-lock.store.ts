import type { Clock } from '../core/clock.js';
import { globToRegExp } from '../keys/glob.js';
import type {
  HandedOver, HoldReply, LockStore, MutexKeys, MutexReply, MutexRequest, MutexState, PermitRequest, ReadWriteKeys, ReadWriteRequest,
  ReleaseReply, SemaphoreKeys, WakeHandler,
} from './lock-store.interface.js';
import { decodeQueueEntry, encodeHandOff, encodeNewHead, encodeQueueEntry, type QueueEntry } from './queue-codec.js';

interface MutexEntry { token: string; owner: string; count: number; fence: number; expiresAt: number }
/** A fence counter and when it was seeded (clock ms): it expires FENCE_RETENTION_MS after that, as on Redis. */
interface FenceCounter { value: number; seededAt: number }

/** As lua/fence-retention.lua: a fence counter lives this long after its seed (7 days). */
export const FENCE_RETENTION_MS = 604_800_000;
interface Waiter { member: string; score: number; expiresAt: number }
interface Queue { waiters: Waiter[]; seq: number }

/**
 * The lock stores in process memory, on the injected clock, with the semantics of the Lua
 * scripts: the same queue order and entry format, hand-off on release, lease expiry of waiters
 * and fencing counters. State is local to this module instance: it excludes nothing across
 * processes.
 */
export class MemoryLockStore implements LockStore {
  readonly kind = 'memory';
  readonly publishesEvents = false;
  private readonly mutexes = new Map<string, MutexEntry>();
  private readonly queues = new Map<string, Queue>();
  private readonly counters = new Map<string, FenceCounter>();
  private readonly holders = new Map<string, Map<string, number>>();
  private readonly strings = new Map<string, { value: string; expiresAt: number }>();
  private readonly patterns = new Map<string, { match: RegExp; handlers: Set<WakeHandler> }>();

  /**
   * @param seedFencesFromClock whether fencing tokens follow the clock in microseconds, as on
   * Redis (monotonic across restarts of a store that is the primary one; see nextFence). The
   * unsafe local fallback during a Redis outage passes false: its counters start at 1 and never
   * expire, so its tokens are always older than Redis's and a protected resource refuses a
   * fallback holder, never the Redis holders after it.
   */
  constructor(private readonly clock: Clock, private readonly seedFencesFromClock = true) {}

  async acquireMutex(k: MutexKeys, r: MutexRequest): Promise<MutexReply> {
    const member = encodeQueueEntry(r);
    const queue = this.queue(k, true, r.token);
    const held = this.mutex(k.lock);
    const leave = () => {
      if (this.dropWaiter(k.queue, member)) this.publishHead(k);
    };
    const join = () => {
      const now = this.clock.now();
      let waiter = queue?.waiters.find((w) => w.member === member);
      const q = queue ?? this.newQueue(k.queue);
      if (!waiter) {
        q.seq += 1;
        waiter = { member, score: -r.priority * 4294967296 + q.seq, expiresAt: 0 };
        q.waiters.push(waiter);
        q.waiters.sort((a, b) => a.score - b.score);
      }
      waiter.expiresAt = now + r.leaseMs;
      return q.waiters.indexOf(waiter);
    };
    if (held) {
      const pttlMs = held.expiresAt - this.clock.now();
      if (held.token === r.token) {
        leave();
        return { acquired: true, token: r.token, fencingToken: held.fence, pttlMs, reentered: false };
      }
      if (r.reentrant && held.owner === r.owner) {
        held.count += 1;
        held.expiresAt = Math.max(held.expiresAt, this.clock.now() + r.ttlMs);
        leave();
        return { acquired: true, token: held.token, fencingToken: held.fence, pttlMs: held.expiresAt - this.clock.now(), reentered: true };
      }
      return { acquired: false, holderOwner: held.owner, pttlMs, position: r.enqueue ? join() : -1 };
    }
    if (queue) {
      if (!r.enqueue) return { acquired: false, holderOwner: null, pttlMs: -1, position: -1 };
      const position = join();
      if (position > 0) return { acquired: false, holderOwner: null, pttlMs: -1, position };
      this.dropWaiter(k.queue, member);
    }
    const fence = this.nextFence(k.fence);
    this.mutexes.set(k.lock, { token: r.token, owner: r.owner, count: 1, fence, expiresAt: this.clock.now() + r.ttlMs });
    // The head took the free lock: as on a hand-off, the next waiter learns it leads now.
    const nextHead = queue && this.headToken(k.queue);
    if (nextHead) this.publish(k.channel, encodeHandOff({ token: r.token, fencingToken: fence, ttlMs: r.ttlMs, nextHead }));
    return { acquired: true, token: r.token, fencingToken: fence, pttlMs: r.ttlMs, reentered: false };
  }

  async releaseMutex(k: MutexKeys, token: string): Promise<ReleaseReply> {
    const held = this.mutex(k.lock);
    if (!held || held.token !== token) return 'lost';
    held.count -= 1;
    if (held.count > 0) return 'held';
    this.mutexes.delete(k.lock);
    const head = this.queue(k, false)?.waiters[0];
    if (head) {
      this.dropWaiter(k.queue, head.member);
      const waiter = decodeQueueEntry(head.member);
      const fence = this.nextFence(k.fence);
      this.mutexes.set(k.lock, { token: waiter.token, owner: waiter.owner, count: 1, fence, expiresAt: this.clock.now() + waiter.ttlMs });
      const nextHead = this.headToken(k.queue);
      this.publish(k.channel, encodeHandOff({ token: waiter.token, fencingToken: fence, ttlMs: waiter.ttlMs, nextHead }));
    }
    return 'released';
  }

  async extendMutex(k: MutexKeys, token: string, ttlMs: number): Promise<boolean> {
    const held = this.mutex(k.lock);
    if (!held || held.token !== token) return false;
    // As extend.lua: a lock held more than once (reentrant) is only ever lengthened.
    const until = this.clock.now() + ttlMs;
    held.expiresAt = held.count > 1 ? Math.max(held.expiresAt, until) : until;
    return true;
  }

  async leaveQueue(k: MutexKeys, w: QueueEntry): Promise<HandedOver | null> {
    if (this.dropWaiter(k.queue, encodeQueueEntry(w))) this.publishHead(k);
    const held = this.mutex(k.lock);
    return held && held.token === w.token ? { fencingToken: held.fence, pttlMs: held.expiresAt - this.clock.now() } : null;
  }

  async heartbeat(k: MutexKeys, w: QueueEntry, leaseMs: number): Promise<boolean> {
    // As heartbeat.lua: refresh the own entry first (even if its lease just ran out), then drop
    // the expired ones, telling a new head.
    const member = encodeQueueEntry(w);
    const waiter = this.queues.get(k.queue)?.waiters.find((q) => q.member === member);
    if (!waiter) return false;
    waiter.expiresAt = this.clock.now() + leaseMs;
    this.queue(k, true);
    return true;
  }

  async holderOwner(lockKey: string): Promise<string | null> {
    return this.mutex(lockKey)?.owner ?? null;
  }

  async inspectMutex(k: MutexKeys): Promise<MutexState> {
    const held = this.mutex(k.lock);
    const now = this.clock.now();
    // As inspect.lua: counts live waiters without dropping the expired ones (their drop tells the new head).
    const waiters = this.queues.get(k.queue)?.waiters.reduce((live, w) => (w.expiresAt > now ? live + 1 : live), 0) ?? 0;
    return { holder: held ? { owner: held.owner, fencingToken: held.fence, pttlMs: held.expiresAt - now } : null, waiters };
  }

  async acquirePermit(k: SemaphoreKeys, { token, permits, ttlMs }: PermitRequest): Promise<HoldReply> {
    const holders = this.liveHolders(k.holders);
    if (!holders.has(token) && holders.size >= permits) {
      return { acquired: false, retryInMs: Math.min(...holders.values()) - this.clock.now() };
    }
    holders.set(token, this.clock.now() + ttlMs);
    return { acquired: true, token, fencingToken: this.nextFence(k.fence), pttlMs: ttlMs };
  }

  async releasePermit(k: SemaphoreKeys, token: string): Promise<'released' | 'lost'> {
    if (!this.liveHolders(k.holders).delete(token)) return 'lost';
    this.publish(k.channel, 'f');
    return 'released';
  }

  async extendPermit(k: SemaphoreKeys, token: string, ttlMs: number): Promise<boolean> {
    const holders = this.liveHolders(k.holders);
    if (!holders.has(token)) return false;
    holders.set(token, this.clock.now() + ttlMs);
    return true;
  }

  async acquireReadWrite(k: ReadWriteKeys, { mode, token, ttlMs, waiting, leaseMs }: ReadWriteRequest): Promise<HoldReply> {
    const readers = this.liveHolders(k.readers);
    const writer = this.string(k.writer);
    const now = this.clock.now();
    if (writer) return { acquired: false, retryInMs: writer.expiresAt - now };
    if (mode === 'r') {
      if (this.string(k.writerWaiting)) return { acquired: false, retryInMs: -1 };
      readers.set(token, now + ttlMs);
      return { acquired: true, token, fencingToken: this.nextFence(k.fence), pttlMs: ttlMs };
    }
    if (readers.size > 0) {
      if (waiting) this.strings.set(k.writerWaiting, { value: token, expiresAt: now + leaseMs });
      return { acquired: false, retryInMs: Math.min(...readers.values()) - now };
    }
    this.strings.set(k.writer, { value: token, expiresAt: now + ttlMs });
    if (this.string(k.writerWaiting)?.value === token) this.strings.delete(k.writerWaiting);
    return { acquired: true, token, fencingToken: this.nextFence(k.fence), pttlMs: ttlMs };
  }

  async releaseReadWrite(k: ReadWriteKeys, mode: 'r' | 'w', token: string): Promise<'released' | 'lost'> {
    if (mode === 'r') {
      const readers = this.liveHolders(k.readers);
      if (!readers.delete(token)) return 'lost';
      if (readers.size === 0) this.publish(k.channel, 'f');
      return 'released';
    }
    if (this.string(k.writer)?.value !== token) return 'lost';
    this.strings.delete(k.writer);
    this.publish(k.channel, 'f');
    return 'released';
  }

  async extendReadWrite(k: ReadWriteKeys, mode: 'r' | 'w', token: string, ttlMs: number): Promise<boolean> {
    if (mode === 'w') {
      const writer = this.string(k.writer);
      if (writer?.value !== token) return false;
      writer.expiresAt = this.clock.now() + ttlMs;
      return true;
    }
    const readers = this.liveHolders(k.readers);
    if (!readers.has(token)) return false;
    readers.set(token, this.clock.now() + ttlMs);
    return true;
  }

  async abandonWrite(k: ReadWriteKeys, token: string): Promise<void> {
    if (this.string(k.writerWaiting)?.value !== token) return;
    this.strings.delete(k.writerWaiting);
    this.publish(k.channel, 'f');
  }

  async checkFence(guardKey: string, fencingToken: number, retentionMs: number): Promise<boolean> {
    const current = Number(this.string(guardKey)?.value ?? 0);
    this.strings.set(guardKey, { value: String(Math.max(current, fencingToken)), expiresAt: this.clock.now() + retentionMs });
    return fencingToken >= current;
  }

  async setWaitEdge(edgeKey: string, lockKey: string, leaseMs: number): Promise<void> {
    this.strings.set(edgeKey, { value: lockKey, expiresAt: this.clock.now() + leaseMs });
  }

  async getWaitEdge(edgeKey: string): Promise<string | null> {
    return this.string(edgeKey)?.value ?? null;
  }

  async clearWaitEdge(edgeKey: string): Promise<void> {
    this.strings.delete(edgeKey);
  }

  async increment(key: string, retentionMs: number): Promise<number> {
    const next = Number(this.string(key)?.value ?? 0) + 1;
    this.strings.set(key, { value: String(next), expiresAt: this.clock.now() + retentionMs });
    return next;
  }

  async listen(pattern: string, handler: WakeHandler): Promise<void> {
    let entry = this.patterns.get(pattern);
    if (!entry) this.patterns.set(pattern, (entry = { match: globToRegExp(pattern), handlers: new Set() }));
    entry.handlers.add(handler);
  }

  async unlisten(pattern: string, handler: WakeHandler): Promise<void> {
    const entry = this.patterns.get(pattern);
    if (entry?.handlers.delete(handler) && entry.handlers.size === 0) this.patterns.delete(pattern);
  }

  /** Delivered asynchronously, like a pub/sub message, to the handlers of every matching pattern. */
  private publish(channel: string, message: string): void {
    for (const { match, handlers } of this.patterns.values()) {
      if (!match.test(channel)) continue;
      for (const handler of handlers) queueMicrotask(() => handler(channel, message));
    }
  }

  /** As queue_announce in lua/queue.lua: names the head with the lock's remaining time (negative: free). */
  private publishHead(k: MutexKeys, skip?: string): void {
    const head = this.headToken(k.queue);
    if (!head || head === skip) return;
    const held = this.mutex(k.lock);
    this.publish(k.channel, encodeNewHead({ head, pttlMs: held ? held.expiresAt - this.clock.now() : -2 }));
  }

  private headToken(queueKey: string): string | null {
    const head = this.queues.get(queueKey)?.waiters[0];
    return head ? decodeQueueEntry(head.member).token : null;
  }

  private mutex(key: string): MutexEntry | undefined {
    const entry = this.mutexes.get(key);
    if (entry && entry.expiresAt <= this.clock.now()) {
      this.mutexes.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * The queue with expired waiters dropped; undefined when empty. When that moved the head, it
   * is told (`announce`, unless it is `skip`), as the Lua scripts do when they drop dead waiters (lua/queue.lua).
   */
  private queue(k: MutexKeys, announce: boolean, skip?: string): Queue | undefined {
    const queue = this.queues.get(k.queue);
    if (!queue) return undefined;
    const now = this.clock.now();
    const head = queue.waiters[0];
    queue.waiters = queue.waiters.filter((w) => w.expiresAt > now);
    if (queue.waiters.length === 0) {
      this.queues.delete(k.queue);
      return undefined;
    }
    if (announce && queue.waiters[0] !== head) this.publishHead(k, skip);
    return queue;
  }

  private newQueue(key: string): Queue {
    const queue = { waiters: [], seq: 0 };
    this.queues.set(key, queue);
    return queue;
  }

  /** Drops a waiter; true when it led the queue. */
  private dropWaiter(queueKey: string, member: string): boolean {
    const queue = this.queues.get(queueKey);
    if (!queue) return false;
    const wasHead = queue.waiters[0]?.member === member;
    queue.waiters = queue.waiters.filter((w) => w.member !== member);
    if (queue.waiters.length === 0) this.queues.delete(queueKey);
    return wasHead;
  }

  /**
   * As lua/fence.lua: the next token is the larger of the counter + 1 and the clock in
   * microseconds; a counter this store does not have yet starts at the clock. One seeded
   * FENCE_RETENTION_MS ago or longer is gone, as its key expires on Redis, and starts at the
   * clock again (later tokens keep the seed's time). The fallback (seedFencesFromClock false)
   * counts from 1 and its counters never expire: it has no clock to start again above its old
   * tokens, and starting again at 1 would issue tokens lower than the ones it already issued.
   */
  private nextFence(key: string): number {
    const now = this.clock.now();
    const current = this.counters.get(key);
    if (!this.seedFencesFromClock) {
      if (current) return ++current.value;
      this.counters.set(key, { value: 1, seededAt: now });
      return 1;
    }
    const clockMicros = Math.max(1, Math.floor(now * 1_000));
    if (current && now < current.seededAt + FENCE_RETENTION_MS) return (current.value = Math.max(current.value + 1, clockMicros));
    this.counters.set(key, { value: clockMicros, seededAt: now });
    return clockMicros;
  }

  private liveHolders(key: string): Map<string, number> {
    let holders = this.holders.get(key);
    if (!holders) this.holders.set(key, (holders = new Map()));
    const now = this.clock.now();
    for (const [token, expiresAt] of holders) if (expiresAt <= now) holders.delete(token);
    return holders;
  }

  private string(key: string): { value: string; expiresAt: number } | undefined {
    const entry = this.strings.get(key);
    if (entry && entry.expiresAt <= this.clock.now()) {
      this.strings.delete(key);
      return undefined;
    }
    return entry;
  }
}
