--[[
  Ends a run: frees the run lease (clears holder and until; `last` and `token` stay), so the
  next tick can be claimed. Only for its owner and fencing token while the lease is live.

  Input:
    KEYS[1] state   the job's hash (see claim-tick.lua)
    ARGV[1] owner   ARGV[2] fencingToken

  Output:
    1   finished
    0   that run's lease was already over (expired, or another run began)
]]
--! include ../../lua/server-time.lua
local stateKey = KEYS[1]
local state = redis.call('HMGET', stateKey, 'holder', 'token', 'until')
if state[1] ~= ARGV[1] or tonumber(state[2]) ~= tonumber(ARGV[2]) or not state[3] or tonumber(state[3]) <= server_time_ms() then return 0 end
redis.call('HDEL', stateKey, 'holder', 'until')
return 1
