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
  an absent hash. The token is fence_next's (fence.lua): the larger of the counter + 1 and the
  server clock in microseconds, written back with KEEPTTL, or seeded from the clock with
  PX FENCE_RETENTION_MS when the counter is missing. A held lock (the contended case) costs an
  HMGET more.
]]
--! include ./fence-retention.lua
local fastFence, fastHolder, fastQueued
do
  local found, last = redis.call('EXISTS', lockKey, qexpKey, fenceKey), false
  -- One key and no counter: the one key is the lock or the queue (the counter was lost), not free.
  if found == 1 then last = redis.call('GET', fenceKey) end
  if found == 0 or last then
    local t = redis.call('TIME')
    fastFence = tonumber(t[1]) * 1000000 + tonumber(t[2])
    if last then
      last = tonumber(last)
      if last >= fastFence then fastFence = last + 1 end
    end
    -- Digits formatted once (fence_string's format) serve both writes.
    local digits = string.format('%.0f', fastFence)
    if last then
      redis.call('SET', fenceKey, digits, 'KEEPTTL')
    else
      redis.call('SET', fenceKey, digits, 'PX', FENCE_RETENTION_MS)
    end
    redis.call('HSET', lockKey, 't', token, 'o', owner, 'n', 1, 'f', digits)
    redis.call('PEXPIRE', lockKey, ttl)
  else
    fastHolder = redis.call('HMGET', lockKey, 't', 'o', 'f')
    if not fastHolder[1] then fastQueued = true end
  end
end
