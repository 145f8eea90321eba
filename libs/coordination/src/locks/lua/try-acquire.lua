--[[
  The first attempt of a mutex acquisition: the fast path of acquire.lua (shared through
  mutex.lua), plus re-entry. Fewer KEYS and ARGV than acquire.lua (each costs Redis and ioredis
  work on every call); when this refuses and the caller wants to wait, it runs acquire.lua,
  which joins the queue.

  Input:
    KEYS[1] lock   KEYS[2] fence   KEYS[3] queue-exp   (see acquire.lua)
    ARGV[1] token   ARGV[2] owner   ARGV[3] ttlMs   ARGV[4] reentrant ("1")
    ARGV[5] eventChannel   ARGV[6] eventHead   optional, as ARGV[8] / ARGV[9] of acquire.lua

  Output:
    fencingToken                         acquired; pttl = ttlMs (an integer reply: cheap to decode)
    { 1, token, fencingToken, pttlMs }   re-entered (token is the holder's)
    { 0, holderOwner, pttlMs }           held by someone else; pttl -1 when free but waiters are queued
]]
--! include ./mutex.lua
local lockKey, ttl = KEYS[1], tonumber(ARGV[3])
local fence, holder = mutex_fast_path(lockKey, KEYS[2], KEYS[3], ARGV[1], ARGV[2], ttl)
if fence then
  publish_acquired(ARGV[5], ARGV[6], fence)
  return fence
end
if not holder[1] then return { 0, '', -1 } end
if ARGV[4] == '1' and holder[2] == ARGV[2] then
  local pttl = mutex_reenter(lockKey, ttl)
  publish_acquired(ARGV[5], ARGV[6], holder[3])
  return { 1, holder[1], tonumber(holder[3]), pttl }
end
return { 0, holder[2], redis.call('PTTL', lockKey) }
