--[[
  Acquire a mutex, or join / poll its wait queue.

  Input:
    KEYS[1] lock        the mutex hash (see mutex.lua)
    KEYS[2] fence       fencing-token counter (see fence.lua)
    KEYS[3] queue       KEYS[4] queue-exp   KEYS[5] queue-seq   (see queue.lua)
    ARGV[1] token       ARGV[2] owner      ARGV[3] ttlMs
    ARGV[4] reentrant   "1" lets the current owner take the lock again (hold count + 1)
    ARGV[5] enqueue     "1" joins (or stays in) the wait queue when the lock cannot be taken now
    ARGV[6] priority    integer, higher is served first
    ARGV[7] leaseMs     how long a queue entry lives without being refreshed
    ARGV[8] eventChannel  optional: when acquired, the lock.acquired event is published there
    ARGV[9] eventHead     (see publish_acquired in mutex.lua)

  The wake-up channel of a lock is named like its lock key (KEYS[1]). When the head of the
  queue takes the free lock, or dropping expired waiters moves the head, the new head is told
  there (see queue.lua), so that it polls when the lock expires.

  Output:
    { 1, token, fencingToken, pttlMs, reentered(0|1) }  acquired (also when handed off to this waiter);
                                                          token is the holder's when re-entered
    { 0, holderOwner, pttlMs, queuePosition }            not acquired; pttl -1 when the lock is free but
                                                          earlier waiters are ahead; position -1 when not queued
]]
local lockKey, fenceKey, queueKey, qexpKey, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, owner, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
--! include ./mutex-fast-path.lua
--! include ../../lua/server-time.lua
--! include ./mutex.lua
--! include ./queue.lua

if fastFence then
  publish_acquired(ARGV[8], ARGV[9], fastFence)
  return { 1, token, fastFence, ttl, 0 }
end
local holder, queued = fastHolder, fastQueued
if queued == nil then queued = redis.call('EXISTS', qexpKey) == 1 end

local reentrant, enqueue = ARGV[4] == '1', ARGV[5] == '1'
local priority, lease = tonumber(ARGV[6]), tonumber(ARGV[7])
local entry -- built only when the queue is involved

local function own_entry()
  entry = entry or queue_entry(token, ARGV[3], owner)
  return entry
end

local function leave()
  if queued and queue_remove(queueKey, qexpKey, seqKey, own_entry()) then queue_publish_head(queueKey, lockKey) end
end

local function join()
  queued = true
  return queue_join(queueKey, qexpKey, seqKey, own_entry(), priority, server_time_ms(), lease)
end

local function acquired(holderToken, f, pttl, reentered)
  publish_acquired(ARGV[8], ARGV[9], f)
  return { 1, holderToken, f, pttl, reentered }
end

if queued then
  local moved
  queued, moved = queue_purge_expired(queueKey, qexpKey, seqKey, server_time_ms())
  if moved then queue_publish_head(queueKey, lockKey, token) end
end

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
  -- Free, but waiters are queued: only the head may take it, and tells the next one.
  if not enqueue then return { 0, '', -1, -1 } end
  local position = join()
  if position > 0 then return { 0, '', -1, position } end
  queue_remove(queueKey, qexpKey, seqKey, own_entry())
  local f = mutex_take(lockKey, fenceKey, token, owner, ttl)
  local nextHead = queue_head(queueKey)
  if nextHead then redis.call('PUBLISH', lockKey, hand_off_message(token, f, ttl, nextHead)) end
  return acquired(token, f, ttl, 0)
end

return acquired(token, mutex_take(lockKey, fenceKey, token, owner, ttl), ttl, 0)
