--[[
  Extend a permit that is still held.

  Input:
    KEYS[1] holders (see semaphore-acquire.lua)
    ARGV[1] token     ARGV[2] ttlMs

  Output:
    1  extended     0  not held (expired); nothing changed
]]
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= nowMs then return 0 end
redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - nowMs))
return 1
