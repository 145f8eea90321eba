--[[
  Write a dumped session back (import), with its own expiries, and add it to its user's index,
  unless a newer record of it is stored: a live record whose version is higher than the
  dumped one (updated since the export) is kept as it is. Idempotent: the same dump writes the
  same record again, the member scored by its creation time.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] session   the record (`prefix .. member`, same slot)
    ARGV[1] member    the session's member
    ARGV[2..7] l e x t i v   its time fields and version (integers that fit the header, checked
                      by the caller: dumped-record.ts)
    ARGV[8] graceMs   how long the index outlives the session's absolute expiry
    ARGV[9] body      the JSON object of its other fields (see include/session-record.lua)

  Output:
    'restored'  written, the key expiring at min(e, x)
    'kept'      a live record of a higher version is stored: nothing written
    'expired'   its idle or absolute expiry has passed: nothing written
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, session = KEYS[1], KEYS[2]
local e, x, t, v = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
local now = server_time_ms()
if e <= now or x <= now then return 'expired' end
local stored = record_live(session, now)
if stored and record_version(stored) > v then return 'kept' end
local record = record_header(tonumber(ARGV[2]), e, x, t, tonumber(ARGV[6]), v) .. ARGV[9]
redis.call('SET', session, record, 'PXAT', math.min(e, x))
redis.call('ZADD', index, t, ARGV[1])
index_keep_until(index, now, x + tonumber(ARGV[8]))
return 'restored'
