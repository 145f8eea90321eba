--[[
  Shared include: the mutex hash. The uncontended path every mutex acquisition starts with is
  mutex-fast-path.lua (straight-line code, run before this is included).

  The hash at a lock key: { t = owner token, o = owner id, n = hold count, f = fencing token },
  PX = ttl. Fencing tokens come from fence.lua: strictly increasing per lock, also across a
  loss of the counter or a counter a failover brought back older.

  Functions:
    mutex_hold(lockKey, token, owner, ttl, fence) -> fence
      writes the hash for `token` (hold count 1) with the fencing token given
    mutex_take(lockKey, fenceKey, token, owner, ttl) -> fencingToken
      takes the lock for `token` (hold count 1, a new fencing token)
    mutex_reenter(lockKey, ttl) -> pttlMs
      one more hold by the holder's owner; never shortens the lock
    publish_acquired(channel, head, fence)
      the lock.acquired event, when `channel` is given: `head` is an EventBus envelope prefix
      (events/event-envelope.ts) whose payload ends with "fencingToken":; the token and the
      envelope's closing '}}' are appended here
]]
--! include ./fence.lua
local function mutex_hold(lockKey, token, owner, ttl, fence)
  redis.call('HSET', lockKey, 't', token, 'o', owner, 'n', 1, 'f', fence_string(fence))
  redis.call('PEXPIRE', lockKey, ttl)
  return fence
end

local function mutex_take(lockKey, fenceKey, token, owner, ttl)
  return mutex_hold(lockKey, token, owner, ttl, fence_next(fenceKey))
end

local function mutex_reenter(lockKey, ttl)
  redis.call('HINCRBY', lockKey, 'n', 1)
  if redis.call('PTTL', lockKey) < ttl then redis.call('PEXPIRE', lockKey, ttl) end
  return redis.call('PTTL', lockKey)
end

local function publish_acquired(channel, head, fence)
  if channel then redis.call('PUBLISH', channel, head .. fence_string(fence) .. '}}') end
end
