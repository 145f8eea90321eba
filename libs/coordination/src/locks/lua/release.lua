--[[
  Release a mutex held by this token; hand it straight to the head of the wait queue.

  Input:
    KEYS[1] lock   [KEYS[2] fence   KEYS[3] queue   KEYS[4] queue-exp   KEYS[5] queue-seq]   (see acquire.lua)
    ARGV[1] token     owner token of the releasing holder
    ARGV[2] eventChannel   ARGV[3] eventMessage   optional: PUBLISHed when released (1 or 2), so the
                           lock.released event costs no round trip of its own

  KEYS[2..5] are declared on a cluster and derived from KEYS[1] otherwise: see try-acquire.lua.
  The wake-up channel of a lock is named like its lock key (KEYS[1]).

  Output:
    0  not the holder (lost: expired or taken over); nothing changed
    1  released (and possibly handed off; the new holder and the new head of the queue are told by
       a hand-off message, see queue.lua)
    2  a reentrant hold count was decremented; the lock is still held
]]
local lockKey = KEYS[1]

-- Reads first, writes after them (see queue.lua: cluster slot migrations), the event last: a
-- release a migration stopped wrote nothing and published nothing.
local held = redis.call('HMGET', lockKey, 't', 'n')
if held[1] ~= ARGV[1] then return 0 end
local channel, event = ARGV[2], ARGV[3]
if tonumber(held[2]) > 1 then
  redis.call('HINCRBY', lockKey, 'n', -1)
  if channel then redis.call('PUBLISH', channel, event) end
  return 2
end

local qexpKey = KEYS[4] or lockKey .. ':queue-exp'
if redis.call('EXISTS', qexpKey) == 0 then
  redis.call('DEL', lockKey)
  if channel then redis.call('PUBLISH', channel, event) end
  return 1
end
local fenceKey, queueKey, seqKey = KEYS[2] or lockKey .. ':fence', KEYS[3] or lockKey .. ':queue', KEYS[5] or lockKey .. ':queue-seq'

-- Waiters are queued. The shared pieces are included here, not at the top, so that a release
-- nobody waits for does not build their functions (a closure each, on every run).
--! include ../../lua/server-time.lua
--! include ./mutex.lua
--! include ./queue.lua
local q = queue_read(queueKey, qexpKey, seqKey, server_time_ms())
local live = queue_live(q, nil, 2)
local head, nextHead = live[1], live[2]
if head then
  -- Handed to the head: the hash is rewritten for it in place, not deleted and created again.
  local waiter, ttl, owner = queue_entry_parse(head)
  local fence = mutex_take(lockKey, fenceKey, waiter, owner, tonumber(ttl))
  queue_drop(q, head, nil, nextHead == nil)
  if channel then redis.call('PUBLISH', channel, event) end
  redis.call('PUBLISH', lockKey, hand_off_message(waiter, fence, ttl, nextHead and (queue_entry_parse(nextHead))))
  return 1
end
-- Only waiters whose lease ran out.
redis.call('DEL', lockKey)
queue_drop(q, nil, nil, true)
if channel then redis.call('PUBLISH', channel, event) end
return 1
