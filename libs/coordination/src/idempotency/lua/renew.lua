--[[
  Extend the lease of an in-flight idempotency record held by this owner.

  Input:
    KEYS[1] record    hash { state = 'running' | 'done', fp, owner, outcome }
    ARGV[1] owner     ARGV[2] leaseMs (the new remaining lifetime, whole ms > 0)

  Output:
    1  renewed     0  not held by `owner` (expired, completed, abandoned or taken over); nothing changed
]]
local held = redis.call('HMGET', KEYS[1], 'state', 'owner')
if held[1] ~= 'running' or held[2] ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
