import { loadLuaScript, type LuaScript } from '../connection/lua-script.js';

const load = (name: string, file: string): LuaScript => loadLuaScript(name, import.meta.url, `./lua/${file}`);

/**
 * Every Lua script of the locks capability, read once at import with its includes expanded
 * (`lua/mutex-fast-path.lua`, `lua/mutex.lua`, `lua/queue.lua`, `lua/fence.lua`,
 * `lua/expiring-set.lua`, `../lua/server-time.lua`). Each `.lua` file opens with a header naming
 * its KEYS, ARGV and reply; `RedisLockStore` is the only caller and turns every reply into a
 * typed result.
 *
 * @example
 * // standalone: the lock key only (the script derives the others); a cluster declares [k.lock, k.fence, k.queueExp]
 * const fence = await connection.runScript<number>(LOCK_SCRIPTS.tryAcquire, [k.lock], [token, owner, ttlMs]);
 */
export const LOCK_SCRIPTS = {
  /** The uncontended first attempt of a mutex (fast path and re-entry). */
  tryAcquire: load('coordLockTryAcquire', 'try-acquire.lua'),
  /** A mutex attempt that may join or poll the wait queue. */
  acquire: load('coordLockAcquire', 'acquire.lua'),
  release: load('coordLockRelease', 'release.lua'),
  extend: load('coordLockExtend', 'extend.lua'),
  leaveQueue: load('coordLockLeaveQueue', 'leave-queue.lua'),
  heartbeat: load('coordLockHeartbeat', 'heartbeat.lua'),
  fenceCheck: load('coordLockFenceCheck', 'fence-check.lua'),
  /** Reads a mutex's holder and live waiters (LockService.inspect). */
  inspect: load('coordLockInspect', 'inspect.lua'),
  /** The next number of a tenant's wait-order counter (deadlock detection), with its retention. */
  waitSequence: load('coordLockWaitSequence', 'wait-sequence.lua'),
  semaphoreAcquire: load('coordSemaphoreAcquire', 'semaphore-acquire.lua'),
  semaphoreRelease: load('coordSemaphoreRelease', 'semaphore-release.lua'),
  semaphoreExtend: load('coordSemaphoreExtend', 'semaphore-extend.lua'),
  rwAcquire: load('coordRwAcquire', 'rw-acquire.lua'),
  rwRelease: load('coordRwRelease', 'rw-release.lua'),
  rwExtend: load('coordRwExtend', 'rw-extend.lua'),
  rwAbandon: load('coordRwAbandon', 'rw-abandon.lua'),
} as const satisfies Record<string, LuaScript>;
