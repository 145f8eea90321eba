--[[
  Extends a term's lease: only for the candidate that holds it with that fencing token.

  Input:
    KEYS[1] lease   the role's hash (see campaign.lua)
    ARGV[1] candidate   ARGV[2] fencingToken   ARGV[3] leaseMs (integer > 0)

  Output:
    1   renewed: the lease now ends leaseMs from now
    0   that term is over (expired, resigned, or another term began)
]]
local held = redis.call('HMGET', KEYS[1], 'candidate', 'token')
if held[1] ~= ARGV[1] or tonumber(held[2]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
