--[[
  Extends the run lease of a claimed tick: only for its owner and fencing token while the
  lease is live.

  Input:
    KEYS[1] state   the job's hash (see claim-tick.lua)
    ARGV[1] owner   ARGV[2] fencingToken   ARGV[3] leaseMs (integer > 0)

  Output:
    1   renewed: the run lease now ends leaseMs from now (server time)
    0   that run's lease is over (expired, finished, or another run began)
]]
--! include ../../lua/server-time.lua
local stateKey, leaseMs = KEYS[1], tonumber(ARGV[3])
local state = redis.call('HMGET', stateKey, 'holder', 'token', 'until')
local now = server_time_ms()
if state[1] ~= ARGV[1] or tonumber(state[2]) ~= tonumber(ARGV[2]) or not state[3] or tonumber(state[3]) <= now then return 0 end
redis.call('HSET', stateKey, 'until', string.format('%.0f', now + leaseMs))
-- A run longer than the state's retention must not lose its state (and its lease) midway.
local pttl = redis.call('PTTL', stateKey)
if pttl >= 0 and pttl < leaseMs then redis.call('PEXPIRE', stateKey, leaseMs) end
return 1
