--[[
  Release a mutex held by this token; hand it straight to the head of the wait queue.

  Input:
    KEYS[1] lock   KEYS[2] fence   KEYS[3] queue   KEYS[4] queue-exp   KEYS[5] queue-seq   (see acquire.lua)
    ARGV[1] token     owner token of the releasing holder
    ARGV[2] eventChannel   ARGV[3] eventMessage   optional: PUBLISHed when released (1 or 2), so the
                           lock.released event costs no round trip of its own

  The wake-up channel of a lock is named like its lock key (KEYS[1]).

  Output:
    0  not the holder (lost: expired or taken over); nothing changed
    1  released (and possibly handed off; the new holder is told "g|token|fence|ttlMs" on the channel)
    2  a reentrant hold count was decremented; the lock is still held
]]
local lockKey, fenceKey, queueKey, qexpKey, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token = ARGV[1]

local held = redis.call('HMGET', lockKey, 't', 'n')
if held[1] ~= token then return 0 end
if ARGV[2] then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
if tonumber(held[2]) > 1 then
  redis.call('HINCRBY', lockKey, 'n', -1)
  return 2
end
redis.call('DEL', lockKey)

if redis.call('EXISTS', qexpKey) == 0 then return 1 end
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', qexpKey, '-inf', nowMs)
for i = 1, #expired do redis.call('ZREM', queueKey, expired[i]) end
redis.call('ZREMRANGEBYSCORE', qexpKey, '-inf', nowMs)

local head = redis.call('ZRANGE', queueKey, 0, 0)[1]
if head then
  local a = string.find(head, '|', 1, true)
  local b = string.find(head, '|', a + 1, true)
  local waiter, ttl, owner = string.sub(head, 1, a - 1), string.sub(head, a + 1, b - 1), string.sub(head, b + 1)
  redis.call('ZREM', queueKey, head)
  redis.call('ZREM', qexpKey, head)
  local fence = redis.call('INCR', fenceKey)
  redis.call('HSET', lockKey, 't', waiter, 'o', owner, 'n', 1, 'f', fence)
  redis.call('PEXPIRE', lockKey, tonumber(ttl))
  redis.call('PUBLISH', lockKey, 'g|' .. waiter .. '|' .. fence .. '|' .. ttl)
end
if redis.call('ZCARD', queueKey) == 0 then redis.call('DEL', queueKey, qexpKey, seqKey) end
return 1
