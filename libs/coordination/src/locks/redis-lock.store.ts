import { Logger } from '@nestjs/common';
import { loadLuaScript } from '../connection/lua-script.js';
import type { LuaScript } from '../connection/lua-script.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import type {
  LockStore, MutexKeys, MutexReply, MutexRequest, ReadWriteKeys, ReleaseReply, ScriptEvent, SemaphoreKeys, SimpleReply, WakeHandler,
} from './lock-store.interface.js';

const TRY_ACQUIRE = loadLuaScript('coordLockTryAcquire', import.meta.url, './lua/try-acquire.lua');
const ACQUIRE = loadLuaScript('coordLockAcquire', import.meta.url, './lua/acquire.lua');
const RELEASE = loadLuaScript('coordLockRelease', import.meta.url, './lua/release.lua');
const EXTEND = loadLuaScript('coordLockExtend', import.meta.url, './lua/extend.lua');
const LEAVE = loadLuaScript('coordLockLeaveQueue', import.meta.url, './lua/leave-queue.lua');
const HEARTBEAT = loadLuaScript('coordLockHeartbeat', import.meta.url, './lua/heartbeat.lua');
const FENCE = loadLuaScript('coordLockFenceCheck', import.meta.url, './lua/fence-check.lua');
const SEM_ACQUIRE = loadLuaScript('coordSemaphoreAcquire', import.meta.url, './lua/semaphore-acquire.lua');
const SEM_RELEASE = loadLuaScript('coordSemaphoreRelease', import.meta.url, './lua/semaphore-release.lua');
const SEM_EXTEND = loadLuaScript('coordSemaphoreExtend', import.meta.url, './lua/semaphore-extend.lua');
const RW_ACQUIRE = loadLuaScript('coordRwAcquire', import.meta.url, './lua/rw-acquire.lua');
const RW_RELEASE = loadLuaScript('coordRwRelease', import.meta.url, './lua/rw-release.lua');
const RW_EXTEND = loadLuaScript('coordRwExtend', import.meta.url, './lua/rw-extend.lua');
const RW_ABANDON = loadLuaScript('coordRwAbandon', import.meta.url, './lua/rw-abandon.lua');

type Reply = Array<string | number | null>;

/** LockStore on Redis: one Lua script (one round trip) per operation, through the circuit breaker. */
export class RedisLockStore implements LockStore {
  readonly kind = 'redis';
  readonly publishesEvents = true;
  private readonly logger = new Logger('Coordination:Locks');
  private readonly handlers = new Map<string, Set<WakeHandler>>();
  private readonly subscribed = new Map<string, Promise<void>>();
  private attached = false;

  constructor(private readonly connection: RedisConnection) {}

  /**
   * First attempts run try-acquire.lua (3 keys, 4 arguments: the uncontended case in one cheap
   * call); only when it refuses and the caller waits, acquire.lua joins the queue. A waiter's
   * polls go straight to acquire.lua.
   */
  async acquireMutex(k: MutexKeys, r: MutexRequest): Promise<MutexReply> {
    if (!r.queued) {
      const args: Array<string | number> = [r.token, r.owner, r.ttlMs, r.reentrant ? '1' : '0'];
      if (r.event) args.push(r.event.channel, r.event.message);
      const fast = await this.run<number | Reply>(TRY_ACQUIRE, [k.lock, k.fence, k.queueExp], args);
      if (typeof fast === 'number') return { acquired: true, token: r.token, fencingToken: fast, pttlMs: r.ttlMs, reentered: false };
      if (Number(fast[0]) === 1) return { acquired: true, token: String(fast[1]), fencingToken: Number(fast[2]), pttlMs: Number(fast[3]), reentered: true };
      if (!r.enqueue) return { acquired: false, holderOwner: fast[1] ? String(fast[1]) : null, pttlMs: Number(fast[2]), position: -1 };
    }
    const args: Array<string | number> = [r.token, r.owner, r.ttlMs, r.reentrant ? '1' : '0', r.enqueue ? '1' : '0', r.priority, r.leaseMs];
    if (r.event) args.push(r.event.channel, r.event.message);
    const reply = await this.run<Reply>(ACQUIRE, [k.lock, k.fence, k.queue, k.queueExp, k.queueSeq], args);
    if (Number(reply[0]) === 1) {
      return { acquired: true, token: String(reply[1]), fencingToken: Number(reply[2]), pttlMs: Number(reply[3]), reentered: Number(reply[4]) === 1 };
    }
    return { acquired: false, holderOwner: reply[1] ? String(reply[1]) : null, pttlMs: Number(reply[2]), position: Number(reply[3]) };
  }

  async releaseMutex(k: MutexKeys, token: string, event?: ScriptEvent): Promise<ReleaseReply> {
    const args = event ? [token, event.channel, event.message] : [token];
    const reply = await this.run<number>(RELEASE, [k.lock, k.fence, k.queue, k.queueExp, k.queueSeq], args);
    return reply === 1 ? 'released' : reply === 2 ? 'held' : 'lost';
  }

  async extendMutex(k: MutexKeys, token: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>(EXTEND, [k.lock], [token, ttlMs])) === 1;
  }

  async leaveQueue(k: MutexKeys, token: string, member: string): Promise<{ fencingToken: number; pttlMs: number } | null> {
    const reply = await this.run<Reply>(LEAVE, [k.lock, k.queue, k.queueExp, k.queueSeq], [token, member]);
    return Number(reply[0]) === 1 ? { fencingToken: Number(reply[1]), pttlMs: Number(reply[2]) } : null;
  }

  async heartbeat(k: MutexKeys, member: string, leaseMs: number): Promise<boolean> {
    return (await this.run<number>(HEARTBEAT, [k.queue, k.queueExp, k.queueSeq], [member, leaseMs])) === 1;
  }

  holderOwner(lockKey: string): Promise<string | null> {
    return this.connection.execute('locks.holderOwner', (c) => c.hget(lockKey, 'o'));
  }

  async acquirePermit(k: SemaphoreKeys, token: string, permits: number, ttlMs: number): Promise<SimpleReply> {
    return simple(await this.run<Reply>(SEM_ACQUIRE, [k.holders, k.fence], [token, permits, ttlMs]));
  }

  async releasePermit(k: SemaphoreKeys, token: string): Promise<boolean> {
    return (await this.run<number>(SEM_RELEASE, [k.holders], [token, k.channel])) === 1;
  }

  async extendPermit(k: SemaphoreKeys, token: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>(SEM_EXTEND, [k.holders], [token, ttlMs])) === 1;
  }

  async acquireReadWrite(k: ReadWriteKeys, mode: 'r' | 'w', token: string, ttlMs: number, waiting: boolean, leaseMs: number): Promise<SimpleReply> {
    const keys = [k.writer, k.readers, k.fence, k.writerWaiting];
    return simple(await this.run<Reply>(RW_ACQUIRE, keys, [mode, token, ttlMs, waiting ? '1' : '0', leaseMs]));
  }

  async releaseReadWrite(k: ReadWriteKeys, mode: 'r' | 'w', token: string): Promise<boolean> {
    return (await this.run<number>(RW_RELEASE, [k.writer, k.readers], [mode, token, k.channel])) === 1;
  }

  async extendReadWrite(k: ReadWriteKeys, mode: 'r' | 'w', token: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>(RW_EXTEND, [k.writer, k.readers], [mode, token, ttlMs])) === 1;
  }

  async abandonWrite(k: ReadWriteKeys, token: string): Promise<void> {
    await this.run<number>(RW_ABANDON, [k.writerWaiting], [token, k.channel]);
  }

  async checkFence(guardKey: string, fencingToken: number): Promise<boolean> {
    return (await this.run<number>(FENCE, [guardKey], [fencingToken])) === 1;
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

  increment(key: string): Promise<number> {
    return this.connection.execute('locks.increment', (c) => c.incr(key));
  }

  /**
   * EVALSHA through the breaker (EVAL after a NOSCRIPT). ioredis routes EVALSHA by its first
   * key on a cluster, so every script passes its keys (all of one hash tag) as real KEYS.
   */
  private run<T>(script: LuaScript, keys: string[], args: Array<string | number>): Promise<T> {
    return this.connection.runScript<T>(script, keys, args);
  }

  /**
   * Subscribes the shared subscriber connection to `pattern` once; later calls reuse it. Only
   * waiters subscribe, so the uncontended path never pays for it.
   */
  listen(pattern: string, handler: WakeHandler): Promise<void> {
    let set = this.handlers.get(pattern);
    if (!set) this.handlers.set(pattern, (set = new Set()));
    set.add(handler);
    let ready = this.subscribed.get(pattern);
    if (!ready) {
      const subscriber = this.connection.subscriber();
      if (!this.attached) {
        this.attached = true;
        subscriber.on('pmessage', (matched: string, channel: string, message: string) => {
          for (const h of this.handlers.get(matched) ?? []) h(channel, message);
        });
      }
      ready = subscriber.psubscribe(pattern).then(() => undefined);
      ready.catch((error: unknown) => {
        this.subscribed.delete(pattern);
        this.logger.warn(`Lock wake-up subscription failed (${String(error)}); waiters fall back to polling`);
      });
      this.subscribed.set(pattern, ready);
    }
    return ready;
  }
}

function simple(reply: Reply): SimpleReply {
  return Number(reply[0]) === 1
    ? { acquired: true, fencingToken: Number(reply[1]), pttlMs: Number(reply[2]) }
    : { acquired: false, retryInMs: Number(reply[1]) };
}
