--[[
  A waiter gives up (timeout, abort, deadlock): leave the wait queue. If the lock was handed
  to it in the meantime, say so, so that the caller can keep or release it. When it led the
  queue, the new head is told (see queue.lua).

  Input:
    KEYS[1] lock   KEYS[2] queue   KEYS[3] queue-exp   KEYS[4] queue-seq   (see acquire.lua)
    ARGV[1] token   ARGV[2] ttlMs   ARGV[3] owner   (the waiter's queue entry, see queue.lua)

  Output:
    { 1, fencingToken, pttlMs }  the lock is held by this token (handed off before it left)
    { 0 }                        left the queue (or was not in it)
]]
--! include ./queue.lua
local lockKey, queueKey, qexpKey, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local entry = queue_entry(ARGV[1], ARGV[2], ARGV[3])
-- Reads first; the command that may remove the queue comes last (see queue.lua: cluster slot migrations).
local holder = redis.call('HMGET', lockKey, 't', 'f')
local rank = redis.call('ZRANK', queueKey, entry)
if rank then
  local rest = redis.call('ZRANGE', queueKey, 0, 1)
  local nextHead = rest[1]
  if nextHead == entry then nextHead = rest[2] end
  queue_leave(queueKey, qexpKey, seqKey, entry, nextHead)
  if rank == 0 and nextHead then queue_announce(lockKey, nextHead) end
end
if holder[1] == ARGV[1] then return { 1, tonumber(holder[2]), redis.call('PTTL', lockKey) } end
return { 0 }
