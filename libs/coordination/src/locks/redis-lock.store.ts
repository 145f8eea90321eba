import { Logger } from '@nestjs/common';
import type { LuaScript } from '../connection/lua-script.js';
import type { RedisClient } from '../connection/redis-client.factory.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { LOCK_SCRIPTS as S } from './lock.scripts.js';
import type {
  HandedOver, HoldReply, LockStore, MutexKeys, MutexReply, MutexRequest, MutexState, PermitRequest, ReadWriteKeys, ReadWriteRequest,
  ReleaseReply, ScriptEvent, SemaphoreKeys, WakeHandler,
} from './lock-store.interface.js';
import type { QueueEntry } from './queue-codec.js';

type Reply = Array<string | number | null>;

/** One PSUBSCRIBE of the shared subscriber connection and the handlers it feeds. */
interface PatternSubscription {
  readonly handlers: Set<WakeHandler>;
  readonly ready: Promise<void>;
}

/**
 * The lock stores on Redis: one Lua script (one round trip) per operation, through the circuit
 * breaker. Each reply is turned into a typed result here; nothing above sees a raw reply.
 */
export class RedisLockStore implements LockStore {
  readonly kind = 'redis';
  readonly publishesEvents = true;
  private readonly logger = new Logger('Coordination:Locks');
  private readonly patterns = new Map<string, PatternSubscription>();
  /** The last PSUBSCRIBE / PUNSUBSCRIBE of each pattern: the next one is sent once it settled. */
  private readonly steps = new Map<string, Promise<void>>();
  private attached = false;
  /**
   * Whether the scripts of the uncontended mutex path get every key they may touch declared
   * (a cluster: see try-acquire.lua), or only the lock key, the others derived in Lua.
   */
  private readonly declareAll: boolean;

  constructor(private readonly connection: RedisConnection) {
    this.declareAll = connection.topology === 'cluster';
  }

  /**
   * First attempts run try-acquire.lua (the lock key, 3 arguments: the uncontended case in one
   * cheap call); only when it refuses and the caller waits, acquire.lua joins the queue. A
   * waiter's polls go straight to acquire.lua.
   */
  async acquireMutex(k: MutexKeys, r: MutexRequest): Promise<MutexReply> {
    if (!r.queued) {
      const args: Array<string | number> = [r.token, r.owner, r.ttlMs];
      if (r.reentrant || r.event) args.push(r.reentrant ? '1' : '0');
      if (r.event) args.push(r.event.channel, r.event.message);
      const keys = this.declareAll ? [k.lock, k.fence, k.queueExp] : [k.lock];
      const fast = await this.run<number | Reply>(S.tryAcquire, keys, args);
      if (typeof fast === 'number') return { acquired: true, token: r.token, fencingToken: fast, pttlMs: r.ttlMs, reentered: false };
      if (Number(fast[0]) === 1) return { acquired: true, token: String(fast[1]), fencingToken: Number(fast[2]), pttlMs: Number(fast[3]), reentered: true };
      if (!r.enqueue) return { acquired: false, holderOwner: fast[1] ? String(fast[1]) : null, pttlMs: Number(fast[2]), position: -1 };
    }
    const args: Array<string | number> = [r.token, r.owner, r.ttlMs, r.reentrant ? '1' : '0', r.enqueue ? '1' : '0', r.priority, r.leaseMs];
    if (r.event) args.push(r.event.channel, r.event.message);
    const reply = await this.run<Reply>(S.acquire, [k.lock, k.fence, k.queue, k.queueExp, k.queueSeq], args);
    if (Number(reply[0]) === 1) {
      return { acquired: true, token: String(reply[1]), fencingToken: Number(reply[2]), pttlMs: Number(reply[3]), reentered: Number(reply[4]) === 1 };
    }
    return { acquired: false, holderOwner: reply[1] ? String(reply[1]) : null, pttlMs: Number(reply[2]), position: Number(reply[3]) };
  }

  async releaseMutex(k: MutexKeys, token: string, event?: ScriptEvent): Promise<ReleaseReply> {
    const args = event ? [token, event.channel, event.message] : [token];
    const keys = this.declareAll ? [k.lock, k.fence, k.queue, k.queueExp, k.queueSeq] : [k.lock];
    const reply = await this.run<number>(S.release, keys, args);
    return reply === 1 ? 'released' : reply === 2 ? 'held' : 'lost';
  }

  async extendMutex(k: MutexKeys, token: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>(S.extend, [k.lock], [token, ttlMs])) === 1;
  }

  holderOwner(lockKey: string): Promise<string | null> {
    return this.connection.execute('locks.holderOwner', (c) => c.hget(lockKey, 'o'));
  }

  async inspectMutex(k: MutexKeys): Promise<MutexState> {
    const [owner, fence, pttl, waiters] = await this.run<Reply>(S.inspect, [k.lock, k.queueExp], []);
    const holder = owner ? { owner: String(owner), fencingToken: Number(fence), pttlMs: Number(pttl) } : null;
    return { holder, waiters: Number(waiters) };
  }

  async leaveQueue(k: MutexKeys, w: QueueEntry): Promise<HandedOver | null> {
    const reply = await this.run<Reply>(S.leaveQueue, [k.lock, k.queue, k.queueExp, k.queueSeq], [w.token, w.ttlMs, w.owner]);
    return Number(reply[0]) === 1 ? { fencingToken: Number(reply[1]), pttlMs: Number(reply[2]) } : null;
  }

  async heartbeat(k: MutexKeys, w: QueueEntry, leaseMs: number): Promise<boolean> {
    return (await this.run<number>(S.heartbeat, [k.lock, k.queue, k.queueExp, k.queueSeq], [w.token, w.ttlMs, w.owner, leaseMs])) === 1;
  }

  async acquirePermit(k: SemaphoreKeys, r: PermitRequest): Promise<HoldReply> {
    return hold(r.token, await this.run<Reply>(S.semaphoreAcquire, [k.holders, k.fence], [r.token, r.permits, r.ttlMs]));
  }

  async releasePermit(k: SemaphoreKeys, token: string): Promise<'released' | 'lost'> {
    return (await this.run<number>(S.semaphoreRelease, [k.holders], [token, k.channel])) === 1 ? 'released' : 'lost';
  }

  async extendPermit(k: SemaphoreKeys, token: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>(S.semaphoreExtend, [k.holders], [token, ttlMs])) === 1;
  }

  async acquireReadWrite(k: ReadWriteKeys, r: ReadWriteRequest): Promise<HoldReply> {
    const keys = [k.writer, k.readers, k.fence, k.writerWaiting];
    return hold(r.token, await this.run<Reply>(S.rwAcquire, keys, [r.mode, r.token, r.ttlMs, r.waiting ? '1' : '0', r.leaseMs]));
  }

  async releaseReadWrite(k: ReadWriteKeys, mode: 'r' | 'w', token: string): Promise<'released' | 'lost'> {
    return (await this.run<number>(S.rwRelease, [k.writer, k.readers], [mode, token, k.channel])) === 1 ? 'released' : 'lost';
  }

  async extendReadWrite(k: ReadWriteKeys, mode: 'r' | 'w', token: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>(S.rwExtend, [k.writer, k.readers], [mode, token, ttlMs])) === 1;
  }

  async abandonWrite(k: ReadWriteKeys, token: string): Promise<void> {
    await this.run<number>(S.rwAbandon, [k.writerWaiting], [token, k.channel]);
  }

  async checkFence(guardKey: string, fencingToken: number, retentionMs: number): Promise<boolean> {
    return (await this.run<number>(S.fenceCheck, [guardKey], [fencingToken, retentionMs])) === 1;
  }

  async setWaitEdge(edgeKey: string, lockKey: string, leaseMs: number): Promise<void> {
    await this.connection.execute('locks.setWaitEdge', (c) => c.set(edgeKey, lockKey, 'PX', leaseMs));
  }

  getWaitEdge(edgeKey: string): Promise<string | null> {
    return this.connection.execute('locks.getWaitEdge', (c) => c.get(edgeKey));
  }

  async clearWaitEdge(edgeKey: string): Promise<void> {
    await this.connection.execute('locks.clearWaitEdge', (c) => c.del(edgeKey));
  }

  increment(key: string, retentionMs: number): Promise<number> {
    return this.run<number>(S.waitSequence, [key], [retentionMs]);
  }

  /**
   * Subscribes the shared subscriber connection to `pattern` for its first handler; later
   * handlers share that subscription. Only waiters subscribe, so the uncontended path never
   * pays for it.
   */
  listen(pattern: string, handler: WakeHandler): Promise<void> {
    let subscription = this.patterns.get(pattern);
    if (!subscription) {
      const subscriber = this.subscriber();
      const created: PatternSubscription = { handlers: new Set(), ready: this.step(pattern, () => subscriber.psubscribe(pattern)) };
      created.ready.catch((error: unknown) => {
        if (this.patterns.get(pattern) === created) this.patterns.delete(pattern);
        this.logger.warn(`Lock wake-up subscription failed (${String(error)}); waiters fall back to polling`);
      });
      this.patterns.set(pattern, (subscription = created));
    }
    subscription.handlers.add(handler);
    return subscription.ready;
  }

  /**
   * Removes `handler`; the last one to leave unsubscribes the pattern, so a connection that
   * served many tenants' waiters does not keep a subscription per tenant for good. A listen
   * arriving meanwhile starts a new subscription, sent after the PUNSUBSCRIBE settled.
   */
  async unlisten(pattern: string, handler: WakeHandler): Promise<void> {
    const subscription = this.patterns.get(pattern);
    if (!subscription?.handlers.delete(handler) || subscription.handlers.size > 0) return;
    this.patterns.delete(pattern);
    const subscriber = this.subscriber();
    await this.step(pattern, () => subscriber.punsubscribe(pattern)).catch((error: unknown) => {
      // Not fatal: messages for it find no handler. After shutdown the connection is gone anyway.
      if (subscriber.status !== 'end') this.logger.warn(`Lock wake-up unsubscribe failed (${String(error)})`);
    });
  }

  private subscriber(): RedisClient {
    const subscriber = this.connection.subscriber();
    if (!this.attached) {
      this.attached = true;
      subscriber.on('pmessage', (matched: string, channel: string, message: string) => {
        const subscription = this.patterns.get(matched);
        if (subscription) for (const h of subscription.handlers) h(channel, message);
      });
      // The subscriber connection does not re-send subscriptions after a reconnect (see
      // redis-client.factory.ts): subscribe each pattern again, in order with its other steps.
      subscriber.on('ready', () => this.resubscribe(subscriber));
    }
    return subscriber;
  }

  private resubscribe(subscriber: RedisClient): void {
    for (const pattern of this.patterns.keys()) {
      this.step(pattern, () => subscriber.psubscribe(pattern)).catch((error: unknown) => {
        this.logger.warn(`Lock wake-up subscription could not be restored (${String(error)}); waiters fall back to polling`);
      });
    }
  }

  /** Runs `command` once the previous (un)subscribe of `pattern` settled, so they reach Redis in order. */
  private step(pattern: string, command: () => Promise<unknown>): Promise<void> {
    const next = (this.steps.get(pattern) ?? Promise.resolve()).then(command).then(() => undefined);
    const settled = next.catch(() => undefined);
    this.steps.set(pattern, settled);
    void settled.then(() => {
      if (this.steps.get(pattern) === settled) this.steps.delete(pattern);
    });
    return next;
  }

  /**
   * EVALSHA through the breaker (EVAL after a NOSCRIPT). ioredis routes EVALSHA by its first
   * key on a cluster, so every script passes its keys (all of one hash tag) as real KEYS.
   */
  private run<T>(script: LuaScript, keys: string[], args: Array<string | number>): Promise<T> {
    return this.connection.runScript<T>(script, keys, args);
  }
}

/** `{ 1, fencingToken, pttlMs }` or `{ 0, retryInMs }` of the semaphore and read-write scripts. */
function hold(token: string, reply: Reply): HoldReply {
  return Number(reply[0]) === 1
    ? { acquired: true, token, fencingToken: Number(reply[1]), pttlMs: Number(reply[2]) }
    : { acquired: false, retryInMs: Number(reply[1]) };
}
