--[[
  Take a read-write lock for reading (shared) or writing (exclusive). A writer that waits
  raises a short-lived "writer waiting" flag that turns new readers away, so that a steady
  stream of readers cannot starve writers.

  Input:
    KEYS[1] writer    string = owner token of the writer, PX = ttl
    KEYS[2] readers   expiring set (see expiring-set.lua): member = reader token
    KEYS[3] fence     counter (see fence.lua)
    KEYS[4] wwait     string, present while a writer waits (PX = leaseMs)
    ARGV[1] mode "r" | "w"    ARGV[2] token    ARGV[3] ttlMs
    ARGV[4] waiting   "1" when the caller will wait (a writer then raises wwait)
    ARGV[5] leaseMs

  Output:
    { 1, fencingToken, ttlMs }   acquired
    { 0, msUntilRetry }          not acquired; -1 when unknown
]]
--! include ../../lua/server-time.lua
--! include ./expiring-set.lua
--! include ./fence.lua
local writer, readers, fenceKey, wwait = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = server_time_ms()
-- Reads first; a purge that may remove the readers key is the last command on it (see queue.lua:
-- cluster slot migrations). A refusal writes nothing but the writer-waiting flag.
local writerTtl = redis.call('PTTL', writer)
if writerTtl > 0 then return { 0, writerTtl } end

if mode == 'r' then
  if redis.call('EXISTS', wwait) == 1 then return { 0, -1 } end
  expiring_set_put(readers, token, now, ttl)
  return { 1, fence_next(fenceKey), ttl }
end

local readersExpireIn = expiring_set_first_expiry(readers, now)
if readersExpireIn then
  if ARGV[4] == '1' then redis.call('SET', wwait, token, 'PX', tonumber(ARGV[5])) end
  return { 0, readersExpireIn }
end
expiring_set_purge(readers, now)
redis.call('SET', writer, token, 'PX', ttl)
if redis.call('GET', wwait) == token then redis.call('DEL', wwait) end
return { 1, fence_next(fenceKey), ttl }
