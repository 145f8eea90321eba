--[[
  Fence check at a protected resource: accept a write only from a fencing token newer than
  every token seen before (the Redis form of `UPDATE ... WHERE fence < $token`).

  Input:
    KEYS[1] guard     highest fencing token accepted so far for the resource
    ARGV[1] fencingToken

  Output:
    1  accepted (guard raised to the token)     0  rejected: a newer (or equal) token already wrote
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if token <= current then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
