/** Injection token of the LockStore of one module instance. */
export const LOCK_STORE = Symbol('LOCK_STORE');

/** Keys of one mutex; all share the resource's hash tag. */
export interface MutexKeys {
  lock: string;
  fence: string;
  queue: string;
  queueExp: string;
  queueSeq: string;
  /** Wake-up channel of this lock (hand-off messages). */
  channel: string;
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

export interface MutexRequest {
  token: string;
  owner: string;
  ttlMs: number;
  reentrant: boolean;
  /** Join (or stay in) the wait queue when the lock cannot be taken now. */
  enqueue: boolean;
  priority: number;
  leaseMs: number;
  /** lock.acquired for the store to publish when this attempt acquires (see LockStore.publishesEvents). */
  event?: ScriptEvent;
  /** A waiter's later attempt (already queued): no point trying the uncontended fast path first. */
  queued?: boolean;
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

export type MutexReply =
  | { acquired: true; token: string; fencingToken: number; pttlMs: number; reentered: boolean }
  /** pttlMs -1: free, but earlier waiters are ahead. position -1: not queued. */
  | { acquired: false; holderOwner: string | null; pttlMs: number; position: number };

export type SimpleReply = { acquired: true; fencingToken: number; pttlMs: number } | { acquired: false; retryInMs: number };

/** `held`: a reentrant hold count was decremented, the lock is still held. */
export type ReleaseReply = 'released' | 'held' | 'lost';

/** Hand-off message on a mutex channel: `g|<token>|<fence>|<ttlMs>`; `f` on other channels: "something was freed". */
export type WakeHandler = (channel: string, message: string) => void;

/**
 * The atomic primitives of the locks capability. `RedisLockStore` implements them with one Lua
 * script per call; `MemoryLockStore` with the same semantics in-process on the injected clock.
 * Every method is one round trip.
 */
export interface LockStore {
  readonly kind: 'redis' | 'memory';
  /** Whether acquireMutex / releaseMutex publish the ScriptEvent they are given; else the caller emits. */
  readonly publishesEvents?: boolean;
  acquireMutex(keys: MutexKeys, request: MutexRequest): Promise<MutexReply>;
  releaseMutex(keys: MutexKeys, token: string, event?: ScriptEvent): Promise<ReleaseReply>;
  extendMutex(keys: MutexKeys, token: string, ttlMs: number): Promise<boolean>;
  /** Leaves the wait queue; returns the lock when it was handed to this waiter meanwhile. */
  leaveQueue(keys: MutexKeys, token: string, member: string): Promise<{ fencingToken: number; pttlMs: number } | null>;
  /** Refreshes a waiter's queue lease; false when it is no longer queued. */
  heartbeat(keys: MutexKeys, member: string, leaseMs: number): Promise<boolean>;
  /** Owner id of the current holder of a mutex, by its lock key. */
  holderOwner(lockKey: string): Promise<string | null>;

  acquirePermit(keys: SemaphoreKeys, token: string, permits: number, ttlMs: number): Promise<SimpleReply>;
  releasePermit(keys: SemaphoreKeys, token: string): Promise<boolean>;
  extendPermit(keys: SemaphoreKeys, token: string, ttlMs: number): Promise<boolean>;

  acquireReadWrite(keys: ReadWriteKeys, mode: 'r' | 'w', token: string, ttlMs: number, waiting: boolean, leaseMs: number): Promise<SimpleReply>;
  releaseReadWrite(keys: ReadWriteKeys, mode: 'r' | 'w', token: string): Promise<boolean>;
  extendReadWrite(keys: ReadWriteKeys, mode: 'r' | 'w', token: string, ttlMs: number): Promise<boolean>;
  /** A writer gave up waiting: drops its writer-waiting flag (if still its own) and wakes the waiters. */
  abandonWrite(keys: ReadWriteKeys, token: string): Promise<void>;

  /** Accepts `fencingToken` at `guardKey` unless an older one than the newest accepted before (stores the max). */
  checkFence(guardKey: string, fencingToken: number): Promise<boolean>;

  /** Wait-for graph edges: "owner (edgeKey) waits for the mutex at lockKey", with a lease. */
  setWaitEdge(edgeKey: string, lockKey: string, leaseMs: number): Promise<void>;
  getWaitEdge(edgeKey: string): Promise<string | null>;
  clearWaitEdge(edgeKey: string): Promise<void>;
  /** INCR of a plain counter (orders waits for deadlock victim choice). */
  increment(key: string): Promise<number>;

  /** Delivers wake-up messages of channels matching `pattern`; resolves once subscribed. */
  listen(pattern: string, handler: WakeHandler): Promise<void>;
}

/** Queue member of a waiter: `token|ttlMs|owner` (the owner last: it may contain `|`). */
export function queueMember(token: string, ttlMs: number, owner: string): string {
  return `${token}|${ttlMs}|${owner}`;
}
