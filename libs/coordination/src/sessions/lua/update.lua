--[[
  Set and remove fields of a session in one step, optionally compare-and-set on its version.

  Input:
    KEYS[1] session   the record (a string, see include/session-record.lua)
    ARGV[1] ifVersion the version the session must be at, '' for any
    ARGV[2] touch     '1': record the activity and restart the idle lifetime (as read.lua)
    ARGV[3] n         how many `field, value` pairs follow
    ARGV[4 .. 3 + 2n] the pairs to set in the body (other fields keep their values)
    ARGV[4 + 2n ..]   the fields to remove from the body

  The body is decoded (cjson: every value a string, so nothing is a number to lose precision
  on), changed, encoded again and written with the new header: with the key's expiry kept
  (KEEPTTL), or at the new idle expiry with `touch`.

  Output:
    {1, record (the string)}    updated: v + 1
    {0, 'missing'}              the session is gone; nothing written
    {0, 'version', v}           the session is at version v, not ifVersion; nothing written
]]
--! include ../../lua/server-time.lua
--! include ./include/session-record.lua
local session = KEYS[1]
local now = server_time_ms()
local value, x = record_live(session, now)
if not value then return {0, 'missing'} end
local version = record_version(value)
if ARGV[1] ~= '' and version ~= tonumber(ARGV[1]) then
  return {0, 'version', version}
end

local fields = record_fields(value)
local last_set = 3 + 2 * tonumber(ARGV[3])
for at = 4, last_set, 2 do
  fields[ARGV[at]] = ARGV[at + 1]
end
for at = last_set + 1, #ARGV do
  fields[ARGV[at]] = nil
end

-- The header's l and e (bytes 2..27) stay, or restart with the touch; x t i (28..64) stay.
local l, e = tonumber(string.sub(value, 2, 14)), tonumber(string.sub(value, 15, 27))
if ARGV[2] == '1' then
  l, e = now, math.min(now + record_idle(value), x)
end
local record = record_header(l, e, x, record_created(value), record_idle(value), version + 1) .. record_body(fields)
if ARGV[2] == '1' then
  redis.call('SET', session, record, 'PXAT', e)
else
  redis.call('SET', session, record, 'KEEPTTL')
end
return {1, record}
