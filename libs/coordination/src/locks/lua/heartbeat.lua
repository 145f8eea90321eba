--[[
  A waiter refreshes its queue lease, so that it is not taken for crashed.

  Input:
    KEYS[1] queue   KEYS[2] queue-exp   KEYS[3] queue-seq   (see acquire.lua)
    ARGV[1] queue member "token|ttlMs|owner"   ARGV[2] leaseMs

  Output:
    1  still queued, lease refreshed     0  not in the queue (granted, or dropped as expired)
]]
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], nowMs + lease, ARGV[1])
for _, key in ipairs({ KEYS[1], KEYS[2], KEYS[3] }) do
  if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
end
return 1
