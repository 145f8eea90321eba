--[[
  Ends a term at once (deletes the lease), so another candidate can be elected: only for the
  candidate that holds it with that fencing token. The fencing counter stays.

  Input:
    KEYS[1] lease   the role's hash (see campaign.lua)
    ARGV[1] candidate   ARGV[2] fencingToken

  Output:
    1   resigned
    0   that term was already over (expired, resigned, or another term began)
]]
local held = redis.call('HMGET', KEYS[1], 'candidate', 'token')
if held[1] ~= ARGV[1] or tonumber(held[2]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
