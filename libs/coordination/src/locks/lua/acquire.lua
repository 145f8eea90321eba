--[[
  Acquire a mutex, or join / poll its wait queue.

  Input:
    KEYS[1] lock        the mutex hash (see mutex.lua)
    KEYS[2] fence       fencing-token counter, never expires
    KEYS[3] queue       KEYS[4] queue-exp   KEYS[5] queue-seq   (see queue.lua)
    ARGV[1] token       ARGV[2] owner      ARGV[3] ttlMs
    ARGV[4] reentrant   "1" lets the current owner take the lock again (hold count + 1)
    ARGV[5] enqueue     "1" joins (or stays in) the wait queue when the lock cannot be taken now
    ARGV[6] priority    integer, higher is served first
    ARGV[7] leaseMs     how long a queue entry lives without being refreshed
    ARGV[8] eventChannel  optional: when acquired, the lock.acquired event is published there
    ARGV[9] eventHead     (see publish_acquired in mutex.lua)

  Output:
    { 1, token, fencingToken, pttlMs, reentered(0|1) }  acquired (also when handed off to this waiter);
                                                          token is the holder's when re-entered
    { 0, holderOwner, pttlMs, queuePosition }            not acquired; pttl -1 when the lock is free but
                                                          earlier waiters are ahead; position -1 when not queued
]]
--! include ../../lua/server-time.lua
--! include ./mutex.lua
--! include ./queue.lua
local lockKey, fenceKey, queueKey, qexpKey, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, owner, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

local fence, holder, queued = mutex_fast_path(lockKey, fenceKey, qexpKey, token, owner, ttl)
if fence then
  publish_acquired(ARGV[8], ARGV[9], fence)
  return { 1, token, fence, ttl, 0 }
end
if queued == nil then queued = redis.call('EXISTS', qexpKey) == 1 end

local reentrant, enqueue = ARGV[4] == '1', ARGV[5] == '1'
local priority, lease = tonumber(ARGV[6]), tonumber(ARGV[7])
local entry -- built only when the queue is involved

local function own_entry()
  entry = entry or queue_entry(token, ARGV[3], owner)
  return entry
end

local function leave()
  if queued then queue_remove(queueKey, qexpKey, seqKey, own_entry()) end
end

local function join()
  queued = true
  return queue_join(queueKey, qexpKey, seqKey, own_entry(), priority, server_time_ms(), lease)
end

local function acquired(holderToken, f, pttl, reentered)
  publish_acquired(ARGV[8], ARGV[9], f)
  return { 1, holderToken, f, pttl, reentered }
end

if queued then queued = queue_purge_expired(queueKey, qexpKey, seqKey, server_time_ms()) end

if holder[1] then
  if holder[1] == token then
    -- The previous holder handed the lock to this waiter on release.
    leave()
    return acquired(token, tonumber(holder[3]), redis.call('PTTL', lockKey), 0)
  end
  if reentrant and holder[2] == owner then
    local pttl = mutex_reenter(lockKey, ttl)
    leave()
    return acquired(holder[1], tonumber(holder[3]), pttl, 1)
  end
  local position = -1
  if enqueue then position = join() end
  return { 0, holder[2], redis.call('PTTL', lockKey), position }
end

if queued then
  -- Free, but waiters are queued: only the head may take it.
  if not enqueue then return { 0, '', -1, -1 } end
  local position = join()
  if position > 0 then return { 0, '', -1, position } end
  leave()
end

return acquired(token, mutex_take(lockKey, fenceKey, token, owner, ttl), ttl, 0)
