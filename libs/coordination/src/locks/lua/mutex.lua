--[[
  Shared include: the mutex hash and the uncontended path every mutex acquisition starts with.

  The hash at a lock key: { t = owner token, o = owner id, n = hold count, f = fencing token },
  PX = ttl. Its fence counter never expires, so fencing tokens stay strictly increasing per lock.

  Functions:
    mutex_take(lockKey, fenceKey, token, owner, ttl) -> fencingToken
      takes the lock for `token` (hold count 1, a new fencing token)
    mutex_reenter(lockKey, ttl) -> pttlMs
      one more hold by the holder's owner; never shortens the lock
    mutex_fast_path(lockKey, fenceKey, queueExpKey, token, owner, ttl) -> fencingToken | nil, holder, queued
      takes the lock when it is free and nobody queues for it (the uncontended case). Otherwise
      returns nil, the holder { token, owner, fence } (all false when free) and whether waiters
      are queued (nil when the lock is held: the queue was not looked at)
    publish_acquired(channel, head, fence)
      the lock.acquired event, when `channel` is given: `head` is an EventBus envelope prefix
      (events/event-envelope.ts) whose payload ends with "fencingToken":; the token and the
      envelope's closing '}}' are appended here
]]
local function mutex_take(lockKey, fenceKey, token, owner, ttl)
  local fence = redis.call('INCR', fenceKey)
  redis.call('HSET', lockKey, 't', token, 'o', owner, 'n', 1, 'f', fence)
  redis.call('PEXPIRE', lockKey, ttl)
  return fence
end

local function mutex_reenter(lockKey, ttl)
  redis.call('HINCRBY', lockKey, 'n', 1)
  if redis.call('PTTL', lockKey) < ttl then redis.call('PEXPIRE', lockKey, ttl) end
  return redis.call('PTTL', lockKey)
end

-- HMGET before EXISTS: a held lock is the common contended case and needs the holder anyway.
local function mutex_fast_path(lockKey, fenceKey, queueExpKey, token, owner, ttl)
  local holder = redis.call('HMGET', lockKey, 't', 'o', 'f')
  if holder[1] then return nil, holder, nil end
  if redis.call('EXISTS', queueExpKey) == 1 then return nil, holder, true end
  return mutex_take(lockKey, fenceKey, token, owner, ttl), holder, false
end

local function publish_acquired(channel, head, fence)
  if channel then redis.call('PUBLISH', channel, head .. fence .. '}}') end
end
