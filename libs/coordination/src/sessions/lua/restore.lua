--[[
  Write a dumped session back (import), with its own expiries, and add it to its user's index.
  Idempotent: the record is replaced as a whole, the member scored by its creation time.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] session   the record (`prefix .. member`, same slot)
    ARGV[1] member    the session's member
    ARGV[2..7] l e x t i v   its time fields and version (integers that fit the header, checked
                      by the caller: dumped-record.ts)
    ARGV[8] graceMs   how long the index outlives the session's absolute expiry
    ARGV[9] body      the JSON object of its other fields (see include/session-record.lua)

  Output:
    1  restored, the key expiring at min(e, x)
    0  its idle or absolute expiry has passed: nothing written
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, session = KEYS[1], KEYS[2]
local e, x, t = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = server_time_ms()
if e <= now or x <= now then return 0 end
local record = record_header(tonumber(ARGV[2]), e, x, t, tonumber(ARGV[6]), tonumber(ARGV[7])) .. ARGV[9]
redis.call('SET', session, record, 'PXAT', math.min(e, x))
redis.call('ZADD', index, t, ARGV[1])
index_keep_until(index, now, x + tonumber(ARGV[8]))
return 1
