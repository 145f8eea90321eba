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
local entry = queue_entry(token, ARGV[3], owner)
-- Reads first; a command that may remove a queue key comes last (see queue.lua: cluster slot migrations).
local q = { key = queueKey, exp = qexpKey, seq = seqKey, now = 0, dead = {}, isDead = {} }
if queued or enqueue then
  if queued then q = queue_read(queueKey, qexpKey, seqKey, server_time_ms()) else q.now = server_time_ms() end
end

local function acquired(holderToken, f, pttl, reentered)
  publish_acquired(ARGV[8], ARGV[9], f)
  return { 1, holderToken, f, pttl, reentered }
end

-- Drops the dead waiters and `leaving`; a new head of the queue is told.
local function drop(leaving)
  if not queued then return end
  local live = queue_live(q, leaving, 1)
  queue_drop(q, leaving, nil, live[1] == nil)
  if live[1] and live[1] ~= q.first then queue_announce(lockKey, live[1]) end
end

if holder[1] then
  if holder[1] == token then
    -- The previous holder handed the lock to this waiter on release.
    drop(entry)
    return acquired(token, tonumber(holder[3]), redis.call('PTTL', lockKey), 0)
  end
  if reentrant and holder[2] == owner then
    local pttl = mutex_reenter(lockKey, ttl)
    drop(entry)
    return acquired(holder[1], tonumber(holder[3]), pttl, 1)
  end
  local position = -1
  if enqueue then position = queue_add(q, lockKey, entry, priority, lease) else drop(nil) end
  return { 0, holder[2], redis.call('PTTL', lockKey), position }
end

if not (queued and queue_live(q, nil, 1)[1]) then
  -- Free, and nobody waits whose lease is running.
  if queued then queue_drop(q, nil, nil, true) end
  return acquired(token, mutex_take(lockKey, fenceKey, token, owner, ttl), ttl, 0)
end

-- Free, but waiters are queued: only the head may take it, and tells the next one.
if not enqueue then
  drop(nil)
  return { 0, '', -1, -1 }
end
local position = queue_add(q, lockKey, entry, priority, lease)
if position > 0 then return { 0, '', -1, position } end
local nextHead = redis.call('ZRANGE', queueKey, 1, 1)[1]
queue_leave(queueKey, qexpKey, seqKey, entry, nextHead)
local f = mutex_take(lockKey, fenceKey, token, owner, ttl)
if nextHead then redis.call('PUBLISH', lockKey, hand_off_message(token, f, ttl, (queue_entry_parse(nextHead)))) end
return acquired(token, f, ttl, 0)
