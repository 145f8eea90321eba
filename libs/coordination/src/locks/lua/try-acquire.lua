--[[
  Fast path of acquire.lua: take a free mutex nobody queues for, or re-enter it. Fewer KEYS and
  ARGV than acquire.lua (each costs Redis and ioredis work on every call); when this refuses
  and the caller wants to wait, it runs acquire.lua, which joins the queue.

  Input:
    KEYS[1] lock   KEYS[2] fence   KEYS[3] queue-exp   (see acquire.lua)
    ARGV[1] token   ARGV[2] owner   ARGV[3] ttlMs   ARGV[4] reentrant ("1")
    ARGV[5] eventChannel   ARGV[6] eventHead   optional, as ARGV[8] / ARGV[9] of acquire.lua

  Output:
    fencingToken                         acquired; pttl = ttlMs (an integer reply: cheap to decode)
    { 1, token, fencingToken, pttlMs }   re-entered (token is the holder's)
    { 0, holderOwner, pttlMs }           held by someone else; pttl -1 when free but waiters are queued
]]
local lockKey = KEYS[1]
local holder = redis.call('HMGET', lockKey, 't', 'o', 'f')
if not holder[1] then
  if redis.call('EXISTS', KEYS[3]) == 1 then return { 0, '', -1 } end
  local fence = redis.call('INCR', KEYS[2])
  redis.call('HSET', lockKey, 't', ARGV[1], 'o', ARGV[2], 'n', 1, 'f', fence)
  redis.call('PEXPIRE', lockKey, ARGV[3])
  if ARGV[5] then redis.call('PUBLISH', ARGV[5], ARGV[6] .. fence .. '}}') end
  return fence
end
if ARGV[4] == '1' and holder[2] == ARGV[2] then
  local ttl = tonumber(ARGV[3])
  redis.call('HINCRBY', lockKey, 'n', 1)
  if redis.call('PTTL', lockKey) < ttl then redis.call('PEXPIRE', lockKey, ttl) end
  if ARGV[5] then redis.call('PUBLISH', ARGV[5], ARGV[6] .. holder[3] .. '}}') end
  return { 1, holder[1], tonumber(holder[3]), redis.call('PTTL', lockKey) }
end
return { 0, holder[2], redis.call('PTTL', lockKey) }
