--[[
  Write a dumped session back (import), with its own expiries, and add it to its user's index,
  unless the stored record is at least as new as the dumped one: a live record of a higher
  version (updated since the export), or of the same version whose last activity is not older
  (used or extended since the export, or this very dump restored before) is kept as it is.
  Idempotent: the same dump, once written, is kept; the member is scored by its creation time.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] session   the record (`prefix .. member`, same slot)
    ARGV[1] member    the session's member
    ARGV[2..7] l e x t i v   its time fields and version (integers that fit the header, checked
                      by the caller: dumped-record.ts)
    ARGV[8] graceMs   how long the index outlives the session's absolute expiry
    ARGV[9] body      the JSON object of its other fields (see include/session-record.lua)
    ARGV[10] aheadMs  how far past the server time its creation `t` may be (clocks apart)

  Output:
    'restored'  written, the key expiring at min(e, x)
    'kept'      a live record at least as new is stored: nothing written
    'expired'   its idle or absolute expiry has passed: nothing written
    'future'    created more than aheadMs after the server time: nothing written (the caller
                refuses the record)
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, session = KEYS[1], KEYS[2]
local l, e, x, t, v = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
local now = server_time_ms()
if t > now + tonumber(ARGV[10]) then return 'future' end
if e <= now or x <= now then return 'expired' end
local stored = record_live(session, now)
if stored then
  local stored_v = record_version(stored)
  if stored_v > v or (stored_v == v and record_last_activity(stored) >= l) then return 'kept' end
end
local record = record_header(l, e, x, t, tonumber(ARGV[6]), v) .. ARGV[9]
redis.call('SET', session, record, 'PXAT', math.min(e, x))
redis.call('ZADD', index, t, ARGV[1])
index_keep_until(index, now, x + tonumber(ARGV[8]))
return 'restored'
