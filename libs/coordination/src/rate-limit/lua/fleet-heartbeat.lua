--[[
  Heartbeat of one instance in the fleet sharing a module prefix, and the number of instances
  alive. One sorted set per prefix: member = instance id, score = when the instance stops
  counting as alive (server ms). Expired members are dropped on every call, and the key itself
  expires with its last member, so instances that went away leave nothing behind.

  KEYS[1]  the fleet's sorted set
  ARGV[1]  instance id
  ARGV[2]  ms the instance counts as alive from now; 0 = it leaves the fleet now
  Returns  instances alive (this one included, unless it left)
]]
--! include ../../lua/server-time.lua
local now = server_time_ms()
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now)) end
return redis.call('ZCARD', KEYS[1])
