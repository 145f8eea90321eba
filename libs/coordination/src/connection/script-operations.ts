import type { LuaScript } from './lua-script.js';

/**
 * The public operation each of the library's Lua scripts serves, as errors name it: an HTTP
 * caller of `locks.acquire` that meets an outage reads "Redis is unavailable for locks.acquire",
 * not the name of the script behind it (`coordLockTryAcquire`), which it cannot act on.
 * Several scripts serve one operation (an acquisition tries, queues, keeps its place and leaves
 * the queue). Read only when a call fails, so the hot path does no lookup.
 *
 * A script missing here is named by its own name; script-operations.spec.ts checks that every
 * script the capabilities load has an entry.
 */
const OPERATION_OF_SCRIPT: ReadonlyMap<string, string> = new Map([
  // LockService: mutexes
  ['coordLockTryAcquire', 'locks.acquire'],
  ['coordLockAcquire', 'locks.acquire'],
  ['coordLockLeaveQueue', 'locks.acquire'],
  ['coordLockHeartbeat', 'locks.acquire'],
  ['coordLockWaitSequence', 'locks.acquire'],
  ['coordLockRelease', 'locks.release'],
  ['coordLockExtend', 'locks.extend'],
  ['coordLockFenceCheck', 'locks.checkFence'],
  ['coordLockInspect', 'locks.inspect'],
  // LockService: semaphores and read-write locks (released and extended through the Lock handle)
  ['coordSemaphoreAcquire', 'locks.acquirePermit'],
  ['coordSemaphoreRelease', 'locks.release'],
  ['coordSemaphoreExtend', 'locks.extend'],
  ['coordRwAcquire', 'locks.acquireRead / locks.acquireWrite'],
  ['coordRwAbandon', 'locks.acquireWrite'],
  ['coordRwRelease', 'locks.release'],
  ['coordRwExtend', 'locks.extend'],
  // RateLimitService (its checks fall back or fail closed: these reach callers only through enforce)
  ['coordRateLimitSlidingWindow', 'rateLimit.consume'],
  ['coordRateLimitSlidingWindowApprox', 'rateLimit.consume'],
  ['coordRateLimitFixedWindow', 'rateLimit.consume'],
  ['coordRateLimitTokenBucket', 'rateLimit.consume'],
  ['coordRateLimitGcra', 'rateLimit.consume'],
  ['coordRateLimitMixed', 'rateLimit.consume'],
  ['coordRateLimitRecordViolations', 'rateLimit.recordViolations'],
  ['coordRateLimitFleetHeartbeat', 'rateLimit.heartbeat'],
  // CoordinationThrottlerStorage (@nest-coordination/core/throttler; falls back or fails closed like the rate limits)
  ['coordThrottlerIncrement', 'throttler.increment'],
  // CacheService (the cache store's operations, named like the store's other commands)
  ['coordCacheFill', 'cache.fill'],
  ['coordCacheReleaseLease', 'cache.releaseLease'],
  // SessionService (the pruner's pass is named like the store operation it runs)
  ['coordSessionCreate', 'sessions.create'],
  ['coordSessionRead', 'sessions.get'],
  ['coordSessionUpdate', 'sessions.update'],
  ['coordSessionExtend', 'sessions.extend'],
  ['coordSessionDestroy', 'sessions.destroy'],
  ['coordSessionRename', 'sessions.regenerate'],
  ['coordSessionList', 'sessions.listForUser'],
  ['coordSessionDestroyAll', 'sessions.destroyAllForUser'],
  ['coordSessionPrune', 'sessions.prune'],
  ['coordSessionRestore', 'sessions.importSessions'],
  ['coordStreamClaim', 'streams.consume'],
  ['coordStreamAck', 'streams.consume'],
  ['coordStreamTouch', 'streams.consume'],
  ['coordStreamFail', 'streams.consume'],
  ['coordStreamRelease', 'streams.consume'],
  ['coordStreamPrune', 'streams.consume'],
  ['coordStreamReplay', 'streams.replayDeadLetter'],
  // TaskService (the worker's scripts are named after the @TaskHandler that runs the task)
  ['coordTaskAdd', 'tasks.enqueue'],
  ['coordTaskStart', 'tasks.handler'],
  ['coordTaskCancel', 'tasks.cancel'],
  ['coordTaskFail', 'tasks.handler'],
  ['coordTaskRetry', 'tasks.retry'],
  // IdempotencyService (and the @Idempotent interceptor built on it)
  ['coordIdempotencyBegin', 'idempotency.begin'],
  ['coordIdempotencyRenew', 'idempotency.renew'],
  ['coordIdempotencyComplete', 'idempotency.complete'],
  ['coordIdempotencyAbandon', 'idempotency.abandon'],
  // LeaderService
  ['coordLeaderCampaign', 'leader.campaign'],
  ['coordLeaderRenew', 'leader.campaign'],
  ['coordLeaderResign', 'leader.resign'],
  ['coordLeaderRead', 'leader.leader'],
  // @SingletonJob
  ['coordJobClaim', 'jobs.claim'],
  ['coordJobRenew', 'jobs.renew'],
  ['coordJobFinish', 'jobs.finish'],
]);

/**
 * The public operation `script` serves (`locks.acquire`), or its own name for a script
 * not listed.
 *
 * @example
 * operationOfScript(LOCK_SCRIPTS.tryAcquire); // 'locks.acquire'
 */
export function operationOfScript(script: LuaScript): string {
  return OPERATION_OF_SCRIPT.get(script.name) ?? script.name;
}

/** Whether `script` has a public operation of its own (for the spec that keeps the list complete). */
export function hasPublicOperation(script: LuaScript): boolean {
  return OPERATION_OF_SCRIPT.has(script.name);
}
