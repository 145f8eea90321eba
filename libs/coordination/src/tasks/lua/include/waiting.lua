--[[
  Shared include: the waiting count `n` of a (task name, tenant) in its fairness hash (fields
  `tag` and `n`), never below 0, the hash's TTL refreshed on each write so a leaked count heals.
]]
local function adjust_waiting(fair, delta, ttl_ms)
  local n = tonumber(redis.call('HGET', fair, 'n') or '0') + delta
  if n < 0 then n = 0 end
  redis.call('HSET', fair, 'n', n)
  redis.call('PEXPIRE', fair, ttl_ms)
  return n
end
