--[[
  Abandon an in-flight idempotency record held by this owner: delete it, so the key may be tried again.

  Input:
    KEYS[1] record    hash { state = 'running' | 'done', fp, owner, outcome }
    ARGV[1] owner

  Output:
    1  deleted     0  not held by `owner` (expired, completed or taken over); nothing changed
]]
local held = redis.call('HMGET', KEYS[1], 'state', 'owner')
if held[1] ~= 'running' or held[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
