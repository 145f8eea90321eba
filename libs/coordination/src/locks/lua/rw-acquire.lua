--[[
  Take a read-write lock for reading (shared) or writing (exclusive). A writer that waits
  raises a short-lived "writer waiting" flag that turns new readers away, so that a steady
  stream of readers cannot starve writers.

  Input:
    KEYS[1] writer    string = owner token of the writer, PX = ttl
    KEYS[2] readers   zset member = reader token, score = expiry (server ms)
    KEYS[3] fence     counter, never expires
    KEYS[4] wwait     string, present while a writer waits (PX = leaseMs)
    ARGV[1] mode "r" | "w"    ARGV[2] token    ARGV[3] ttlMs
    ARGV[4] waiting   "1" when the caller will wait (a writer then raises wwait)
    ARGV[5] leaseMs

  Output:
    { 1, fencingToken, ttlMs }   acquired
    { 0, msUntilRetry }          not acquired; -1 when unknown
]]
local writer, readers, fenceKey, wwait = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', readers, '-inf', nowMs)

local writerTtl = redis.call('PTTL', writer)
if writerTtl > 0 then return { 0, writerTtl } end

if mode == 'r' then
  if redis.call('EXISTS', wwait) == 1 then return { 0, -1 } end
  redis.call('ZADD', readers, nowMs + ttl, token)
  local last = redis.call('ZRANGE', readers, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', readers, math.max(1, tonumber(last[2]) - nowMs))
  return { 1, redis.call('INCR', fenceKey), ttl }
end

if redis.call('ZCARD', readers) > 0 then
  if ARGV[4] == '1' then redis.call('SET', wwait, token, 'PX', tonumber(ARGV[5])) end
  local first = redis.call('ZRANGE', readers, 0, 0, 'WITHSCORES')
  return { 0, tonumber(first[2]) - nowMs }
end
redis.call('SET', writer, token, 'PX', ttl)
if redis.call('GET', wwait) == token then redis.call('DEL', wwait) end
return { 1, redis.call('INCR', fenceKey), ttl }
