--[[
  Set and remove fields of a session in one step, optionally compare-and-set on its version.

  Input:
    KEYS[1] session   the record
    ARGV[1] ifVersion the version the session must be at, '' for any
    ARGV[2] touch     '1': record the activity and restart the idle lifetime (as read.lua)
    ARGV[3] n         how many `field, value` pairs follow
    ARGV[4 .. 3 + 2n] the pairs to set (HSET: other fields keep their values)
    ARGV[4 + 2n ..]   the fields to remove

  Output:
    {1, record (HGETALL)}       updated: v + 1
    {0, 'missing'}              the session is gone; nothing written
    {0, 'version', v}           the session is at version v, not ifVersion; nothing written
]]
--! include ../../lua/server-time.lua
--! include ./include/session-record.lua
local session = KEYS[1]
local now = server_time_ms()
local x = record_deadline(session, now)
if not x then return {0, 'missing'} end
local version = tonumber(redis.call('HGET', session, 'v'))
if ARGV[1] ~= '' and version ~= tonumber(ARGV[1]) then
  return {0, 'version', version}
end

local last_set = 3 + 2 * tonumber(ARGV[3])
if last_set > 3 then record_set_pairs(session, ARGV, 4, last_set) end
for at = last_set + 1, #ARGV do
  redis.call('HDEL', session, ARGV[at])
end
redis.call('HINCRBY', session, 'v', 1)
if ARGV[2] == '1' then
  record_touch(session, now, tonumber(redis.call('HGET', session, 'i')), x)
end
return {1, redis.call('HGETALL', session)}
