--[[
  A waiting or delayed task was removed from BullMQ (cancel): out of the tenant's index, and out of
  its waiting count when it never started.

  Input:
    KEYS[1] fair            hash of the (task name, tenant): `tag`, `n`
    KEYS[2] index           zset of the tenant's job ids (same hash tag)
    ARGV[1] jobId
    ARGV[2] neverStarted    1 when the task never started (it counted as waiting), else 0
    ARGV[3] ttlMs           TTL of the fair hash

  Output:
    1
]]
--! include include/waiting.lua

redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then adjust_waiting(KEYS[1], -1, tonumber(ARGV[3])) end
return 1
