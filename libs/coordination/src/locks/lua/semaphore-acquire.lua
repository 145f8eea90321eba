--[[
  Take one permit of a counting semaphore. Every permit has its own expiry, so a crashed
  holder's permit comes back by itself.

  Input:
    KEYS[1] holders   zset member = permit token, score = permit expiry (server ms)
    KEYS[2] fence     counter, never expires
    ARGV[1] token     ARGV[2] permits (the limit)     ARGV[3] ttlMs

  Output:
    { 1, fencingToken, ttlMs }      permit taken
    { 0, msUntilFirstExpiry }       all permits held; -1 when none expires
]]
local holders, fenceKey = KEYS[1], KEYS[2]
local token, limit, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', holders, '-inf', nowMs)
if not redis.call('ZSCORE', holders, token) and redis.call('ZCARD', holders) >= limit then
  local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
  return { 0, tonumber(first[2]) - nowMs }
end
redis.call('ZADD', holders, nowMs + ttl, token)
local last = redis.call('ZRANGE', holders, -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', holders, math.max(1, tonumber(last[2]) - nowMs))
return { 1, redis.call('INCR', fenceKey), ttl }
