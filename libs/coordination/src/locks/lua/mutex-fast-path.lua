--[[
  Shared include, straight-line code: the uncontended case every mutex acquisition starts with,
  a free lock nobody queues for. Written without functions because a Lua function is a closure
  built on every run of the script that defines it (Redis runs a script's whole chunk per call):
  building the functions of mutex.lua and fence.lua cost the uncontended acquisition about 15 %
  of its Redis instructions (callgrind: ~90k -> ~76k per call with the formatting below), so
  scripts include those only after this, where the lock could not be taken at once.

  Expects these locals: lockKey, fenceKey, qexpKey, token, owner, ttl (a number).
  Sets:
    fastFence    the fencing token (a Lua number) when it took the lock: the mutex hash written as
                 mutex.lua describes, hold count 1, PX ttl
    fastHolder   otherwise, HMGET of the holder { token, owner, fence } (all false when free)
    fastQueued   true when the lock is free but waiters are queued; nil when it is held (the
                 queue was not looked at)

  One EXISTS settles the uncontended case, where at most the fence counter exists: no HMGET of
  an absent hash, and a lock taken for the first time pays one write for its seeded counter
  (the seed of fence_seed in fence.lua: the server clock in microseconds, expiring
  FENCE_RETENTION_MS later; INCR keeps that expiry). A held lock (the contended case) costs an
  HMGET more.
]]
--! include ./fence-retention.lua
local fastFence, fastHolder, fastQueued
do
  local found, digits = redis.call('EXISTS', lockKey, qexpKey, fenceKey), nil
  if found == 0 then
    local t = redis.call('TIME')
    fastFence = tonumber(t[1]) * 1000000 + tonumber(t[2])
    digits = string.format('%.0f', fastFence)
    redis.call('SET', fenceKey, digits, 'PX', FENCE_RETENTION_MS)
  elseif found == 1 then
    local fence = redis.call('INCR', fenceKey)
    -- fence 1: the one key is the lock or the queue, and the counter was lost: leave it missing.
    if fence ~= 1 then fastFence = fence else redis.call('DEL', fenceKey) end
  end
  if fastFence then
    -- Digits formatted once (fence_string's format) serve both writes of a seeded counter.
    redis.call('HSET', lockKey, 't', token, 'o', owner, 'n', 1, 'f', digits or string.format('%.0f', fastFence))
    redis.call('PEXPIRE', lockKey, ttl)
  else
    fastHolder = redis.call('HMGET', lockKey, 't', 'o', 'f')
    if not fastHolder[1] then fastQueued = true end
  end
end
