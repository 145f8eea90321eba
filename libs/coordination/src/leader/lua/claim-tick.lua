--[[
  Claims one tick of a singleton job: at most one claim per tick, only for a tick later than
  the last claimed one, and never while an earlier run still holds the run lease (runs do not
  overlap; the tick is then marked taken and skipped).

  Input:
    KEYS[1] state   the job's hash { last (tick ms), holder, token, until (server ms) }
    KEYS[2] fence   the job's fencing counter (shared include ../../locks/lua/fence.lua)
    ARGV[1] tickMs (integer)   ARGV[2] owner   ARGV[3] leaseMs (integer > 0)
    ARGV[4] retentionMs: the state's lifetime, refreshed at each claim (bounded garbage)

  Output:
    { 1, fencingToken }        claimed: the caller runs the tick, holding the run lease
    { 0, 'taken', lastTickMs }     this tick or a later one was claimed already
    { 0, 'running', tickMs }       an earlier run holds the lease; this tick is now taken
  (fencingToken and lastTickMs are decimal strings.)
]]
--! include ../../locks/lua/fence.lua
--! include ../../lua/server-time.lua
local stateKey, tick, leaseMs = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[3])
local retentionMs = math.max(tonumber(ARGV[4]), leaseMs)
local state = redis.call('HMGET', stateKey, 'last', 'holder', 'until')
if state[1] and tonumber(state[1]) >= tick then return { 0, 'taken', state[1] } end
local now = server_time_ms()
local tickString = string.format('%.0f', tick)
if state[2] and state[3] and tonumber(state[3]) > now then
  redis.call('HSET', stateKey, 'last', tickString)
  redis.call('PEXPIRE', stateKey, retentionMs)
  return { 0, 'running', tickString }
end
local token = fence_string(fence_next(KEYS[2]))
redis.call('HSET', stateKey, 'last', tickString, 'holder', ARGV[2], 'token', token, 'until', string.format('%.0f', now + leaseMs))
redis.call('PEXPIRE', stateKey, retentionMs)
return { 1, token }
