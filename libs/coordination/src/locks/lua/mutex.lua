--[[
  Shared include: the mutex hash and the uncontended path every mutex acquisition starts with.

  The hash at a lock key: { t = owner token, o = owner id, n = hold count, f = fencing token },
  PX = ttl. Fencing tokens come from fence.lua: strictly increasing per lock, also across a
  loss of the counter.

  Functions:
    mutex_hold(lockKey, token, owner, ttl, fence) -> fence
      writes the hash for `token` (hold count 1) with the fencing token given
    mutex_take(lockKey, fenceKey, token, owner, ttl) -> fencingToken
      takes the lock for `token` (hold count 1, a new fencing token)
    mutex_reenter(lockKey, ttl) -> pttlMs
      one more hold by the holder's owner; never shortens the lock
    mutex_fast_path(lockKey, fenceKey, queueExpKey, token, owner, ttl) -> fencingToken | nil, holder, queued
      takes the lock when it is free and nobody queues for it (the uncontended case). Otherwise
      returns nil, the holder { token, owner, fence } (all false when free) and whether waiters
      are queued (true when it is free; nil when it is held: the queue was not looked at)
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

-- One EXISTS settles the uncontended case, a free lock nobody queues for, where at most the
-- fence counter exists: no HMGET of an absent hash, and a lock taken for the first time pays
-- one write for its seeded counter. A held lock (the contended case) costs an HMGET more.
local function mutex_fast_path(lockKey, fenceKey, queueExpKey, token, owner, ttl)
  local found = redis.call('EXISTS', lockKey, queueExpKey, fenceKey)
  if found == 0 then return mutex_hold(lockKey, token, owner, ttl, fence_seed(fenceKey)), nil, false end
  if found == 1 then
    local fence = redis.call('INCR', fenceKey)
    if fence ~= 1 then return mutex_hold(lockKey, token, owner, ttl, fence), nil, false end
    -- The one key is the lock or the queue, and the counter was lost: leave it missing.
    redis.call('DEL', fenceKey)
  end
  local holder = redis.call('HMGET', lockKey, 't', 'o', 'f')
  if holder[1] then return nil, holder, nil end
  return nil, holder, true
end

local function publish_acquired(channel, head, fence)
  if channel then redis.call('PUBLISH', channel, head .. fence_string(fence) .. '}}') end
end
