import type { QueueEntry } from './queue-codec.js';

/** Injection token of the LockStore of one module instance. */
export const LOCK_STORE = Symbol('LOCK_STORE');

/** Keys of one mutex; all share the resource's hash tag. */
export interface MutexKeys {
  readonly lock: string;
  readonly fence: string;
  readonly queue: string;
  readonly queueExp: string;
  readonly queueSeq: string;
  /** Wake-up channel of this lock (hand-off messages). */
  readonly channel: string;
}

export interface SemaphoreKeys {
  holders: string;
  fence: string;
  channel: string;
}

export interface ReadWriteKeys {
  writer: string;
  readers: string;
  fence: string;
  writerWaiting: string;
  channel: string;
}

/** A mutex attempt. Its token, ttlMs and owner are also its wait-queue entry. */
export interface MutexRequest extends QueueEntry {
  reentrant: boolean;
  /** Join (or stay in) the wait queue when the lock cannot be taken now. */
  enqueue: boolean;
  priority: number;
  leaseMs: number;
  /** lock.acquired for the store to publish when this attempt acquires (see MutexStore.publishesEvents). */
  event?: ScriptEvent;
  /** A waiter's later attempt (already queued): no point trying the uncontended fast path first. */
  queued?: boolean;
}

export interface PermitRequest {
  token: string;
  ttlMs: number;
  /** The semaphore's limit; every caller of one key passes the same. */
  permits: number;
}

export interface ReadWriteRequest {
  mode: 'r' | 'w';
  token: string;
  ttlMs: number;
  /** The caller will wait when refused: a refused writer then raises the writer-waiting flag. */
  waiting: boolean;
  /** How long that flag lives without a new attempt. */
  leaseMs: number;
}

/**
 * An event a store operation publishes itself on success, in the same round trip: `message`
 * is an encoded EventBus envelope (for acquisitions, without its fencing token and closing
 * `}}`, which the script appends).
 */
export interface ScriptEvent {
  channel: string;
  message: string;
}

/** The lock is held with `token` for `pttlMs` from when the request was sent. */
export interface Granted {
  acquired: true;
  token: string;
  /**
   * Strictly increasing per lock key, also across a loss of Redis's data or a counter brought
   * back older (a failover): each token is the larger of the counter + 1 and the server clock in
   * microseconds (see lua/fence.lua), so tokens are large numbers, not 1. A safe integer until
   * the year 2255.
   */
  fencingToken: number;
  pttlMs: number;
}

export type MutexReply =
  | (Granted & { reentered: boolean })
  /** pttlMs -1: free, but earlier waiters are ahead. position -1: not queued. */
  | { acquired: false; holderOwner: string | null; pttlMs: number; position: number };

/** A permit or read / write attempt. retryInMs: until the blocking hold expires; -1 when unknown. */
export type HoldReply = Granted | { acquired: false; retryInMs: number };

/** `held`: a reentrant hold count was decremented, the lock is still held. `lost`: not held by this token. */
export type ReleaseReply = 'released' | 'held' | 'lost';

/**
 * A mutex as every instance sees it (read by `inspectMutex`): its holder, null when free, and
 * the waiters in its queue whose lease has not run out.
 */
export interface MutexState {
  holder: { owner: string; fencingToken: number; pttlMs: number } | null;
  waiters: number;
}

/** The lock was handed to a waiter that was leaving the queue. */
export interface HandedOver {
  fencingToken: number;
  pttlMs: number;
}

/**
 * A wake-up message: a hand-off or new-head message on a mutex channel (see queue-codec.ts);
 * `f` on other channels: "something was freed".
 */
export type WakeHandler = (channel: string, message: string) => void;

/** Exclusive, optionally reentrant locks with fencing tokens. */
export interface MutexStore {
  /** Whether acquireMutex / releaseMutex publish the ScriptEvent they are given; else the caller emits. */
  readonly publishesEvents: boolean;
  /** Takes the lock, or (with `enqueue`) joins / polls its wait queue; a queued head takes a free lock. */
  acquireMutex(keys: MutexKeys, request: MutexRequest): Promise<MutexReply>;
  /** Releases (or decrements a reentrant hold) and hands the lock to the head of the queue. */
  releaseMutex(keys: MutexKeys, token: string, event?: ScriptEvent): Promise<ReleaseReply>;
  /** Sets the remaining time to `ttlMs` (only lengthens a lock held more than once); false when not held. */
  extendMutex(keys: MutexKeys, token: string, ttlMs: number): Promise<boolean>;
  /** Owner id of the current holder of a mutex, by its lock key. */
  holderOwner(lockKey: string): Promise<string | null>;
  /** The holder and live waiters of a mutex; only reads (expired waiters are left for acquisitions to drop). */
  inspectMutex(keys: MutexKeys): Promise<MutexState>;
}

/** The fair wait queue of a mutex, as seen by a waiter that joined it through acquireMutex. */
export interface WaitQueueStore {
  /** Leaves the wait queue; returns the lock when it was handed to this waiter meanwhile. */
  leaveQueue(keys: MutexKeys, waiter: QueueEntry): Promise<HandedOver | null>;
  /** Refreshes a waiter's queue lease; false when it is no longer queued. */
  heartbeat(keys: MutexKeys, waiter: QueueEntry, leaseMs: number): Promise<boolean>;
}

/** Counting semaphores: each permit has its own expiry. */
export interface SemaphoreStore {
  acquirePermit(keys: SemaphoreKeys, request: PermitRequest): Promise<HoldReply>;
  /** Returns the permit and wakes the semaphore's waiters. */
  releasePermit(keys: SemaphoreKeys, token: string): Promise<'released' | 'lost'>;
  extendPermit(keys: SemaphoreKeys, token: string, ttlMs: number): Promise<boolean>;
}

/** Read-write locks: many readers or one writer; a waiting writer turns new readers away. */
export interface ReadWriteStore {
  acquireReadWrite(keys: ReadWriteKeys, request: ReadWriteRequest): Promise<HoldReply>;
  /** Releases the hold and wakes the lock's waiters (readers: once the last one left). */
  releaseReadWrite(keys: ReadWriteKeys, mode: 'r' | 'w', token: string): Promise<'released' | 'lost'>;
  extendReadWrite(keys: ReadWriteKeys, mode: 'r' | 'w', token: string, ttlMs: number): Promise<boolean>;
  /** A writer gave up waiting: drops its writer-waiting flag (if still its own) and wakes the waiters. */
  abandonWrite(keys: ReadWriteKeys, token: string): Promise<void>;
}

/** Fence checks at a protected resource. */
export interface FenceStore {
  /**
   * Accepts `fencingToken` at `guardKey` unless an older one than the newest accepted before
   * (stores the max). The guard expires `retentionMs` after this check, accepted or refused.
   */
  checkFence(guardKey: string, fencingToken: number, retentionMs: number): Promise<boolean>;
}

/** Wait-for graph edges for deadlock detection: "owner (edgeKey) waits for the mutex at lockKey", with a lease. */
export interface WaitGraphStore {
  setWaitEdge(edgeKey: string, lockKey: string, leaseMs: number): Promise<void>;
  getWaitEdge(edgeKey: string): Promise<string | null>;
  clearWaitEdge(edgeKey: string): Promise<void>;
  /** INCR of a counter (orders waits for deadlock victim choice) that expires `retentionMs` after this increment. */
  increment(key: string, retentionMs: number): Promise<number>;
}

/** Wake-up messages (hand-offs, new heads, "something was freed") for waiters. */
export interface WakeupStore {
  /** Delivers wake-up messages of channels matching `pattern` to `handler`; resolves once subscribed. */
  listen(pattern: string, handler: WakeHandler): Promise<void>;
  /**
   * Stops delivering `pattern` to `handler`; unsubscribes once no handler is left. A `listen`
   * made while that unsubscribe is in flight subscribes again after it.
   */
  unlisten(pattern: string, handler: WakeHandler): Promise<void>;
}

/**
 * Every primitive of the locks capability, one interface per concern; what `LOCK_STORE`
 * provides. `RedisLockStore` implements them with one Lua script per call (`lock.scripts.ts`);
 * `MemoryLockStore` with the same semantics in-process on the injected clock. Every method is
 * one round trip.
 */
export interface LockStore extends MutexStore, WaitQueueStore, SemaphoreStore, ReadWriteStore, FenceStore, WaitGraphStore, WakeupStore {
  readonly kind: 'redis' | 'memory';
}
