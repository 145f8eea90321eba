--[[
  Tasks started for the first time (or cancelled, or a retry undone): out of the tenant's waiting
  set. Idempotent (removes whatever is there), so the worker sends it again when it failed. Sent
  without waiting for the reply (auto-pipelined, the starts of one tick and tenant coalesced).

  Input:
    KEYS[1] waiting         zset of the (task name, tenant)'s waiting, never started job ids
    ARGV[1..] jobIds

  Output:
    the number of job ids removed
]]

local removed = 0
for from = 1, #ARGV, 4000 do
  removed = removed + redis.call('ZREM', KEYS[1], unpack(ARGV, from, math.min(from + 3999, #ARGV)))
end
return removed
