--[[
  A waiter gives up (timeout, abort, deadlock): leave the wait queue. If the lock was handed
  to it in the meantime, say so, so that the caller can keep or release it.

  Input:
    KEYS[1] lock   KEYS[2] queue   KEYS[3] queue-exp   KEYS[4] queue-seq   (see acquire.lua)
    ARGV[1] token     ARGV[2] queue member "token|ttlMs|owner"

  Output:
    { 1, fencingToken, pttlMs }  the lock is held by this token (handed off before it left)
    { 0 }                        left the queue (or was not in it)
]]
local lockKey, queueKey, qexpKey, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
redis.call('ZREM', queueKey, ARGV[2])
redis.call('ZREM', qexpKey, ARGV[2])
if redis.call('ZCARD', queueKey) == 0 then redis.call('DEL', queueKey, qexpKey, seqKey) end
local holder = redis.call('HMGET', lockKey, 't', 'f')
if holder[1] == ARGV[1] then return { 1, tonumber(holder[2]), redis.call('PTTL', lockKey) } end
return { 0 }
