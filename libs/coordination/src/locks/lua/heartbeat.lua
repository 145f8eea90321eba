--[[
  A waiter refreshes its queue lease, so that it is not taken for crashed.

  Input:
    KEYS[1] queue   KEYS[2] queue-exp   KEYS[3] queue-seq   (see queue.lua)
    ARGV[1] token   ARGV[2] ttlMs   ARGV[3] owner   (the waiter's queue entry, see queue.lua)
    ARGV[4] leaseMs

  Output:
    1  still queued, lease refreshed     0  not in the queue (granted, or dropped as expired)
]]
--! include ../../lua/server-time.lua
--! include ./queue.lua
local entry = queue_entry(ARGV[1], ARGV[2], ARGV[3])
if not redis.call('ZSCORE', KEYS[1], entry) then return 0 end
queue_refresh(KEYS[1], KEYS[2], KEYS[3], entry, server_time_ms(), tonumber(ARGV[4]))
return 1
