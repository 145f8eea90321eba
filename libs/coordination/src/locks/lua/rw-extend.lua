--[[
  Extend a read or write hold that is still held.

  Input:
    KEYS[1] writer   KEYS[2] readers   (see rw-acquire.lua)
    ARGV[1] mode "r" | "w"    ARGV[2] token    ARGV[3] ttlMs

  Output:
    1  extended     0  not held (expired or taken over); nothing changed
]]
local ttl = tonumber(ARGV[3])
if ARGV[1] == 'w' then
  if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not score or tonumber(score) <= nowMs then return 0 end
redis.call('ZADD', KEYS[2], nowMs + ttl, ARGV[2])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[2], math.max(1, tonumber(last[2]) - nowMs))
return 1
