--[[
  Create a session: prune the user's index, apply the per-user limit, write the record.

  Input:
    KEYS[1] index     the user's index (sorted set member -> created-at ms)
    KEYS[2] session   the new session's record (`prefix .. member`, same slot)
    ARGV[1] prefix    session key prefix of the user's slot    ARGV[2] member   the new member
    ARGV[3] idleMs    idle lifetime, whole ms > 0              ARGV[4] absoluteMs  whole ms > 0
    ARGV[5] max       most live sessions of the user, 0 = no limit
    ARGV[6] onLimit   'reject' | 'evict-oldest'
    ARGV[7] graceMs   how long the index outlives the session's absolute expiry
    ARGV[8] body      the JSON object of the service's fields (see include/session-record.lua)

  At the limit, `reject` writes nothing (the index is not even pruned, so the expired members
  stay for a read that reports them); `evict-oldest` deletes the oldest live sessions (by
  creation) until the new one fits.

  Output:
    {1, record (the string), evicted members, expired members}   created: t = l = now, e, x, i, v = 1
    {0, live}                                                    refused: `live` sessions at the limit
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, session, prefix, member = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local idle, absolute, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = server_time_ms()

local live, expired = index_members(index, prefix)
if max > 0 and #live >= max and ARGV[6] == 'reject' then
  return {0, #live}
end
index_remove(index, expired)
local evicted = {}
if max > 0 then
  for n = 1, #live - max + 1 do
    evicted[n] = live[n]
    redis.call('DEL', prefix .. live[n])
    redis.call('ZREM', index, live[n])
  end
end

local x = now + absolute
local e = math.min(now + idle, x)
local record = record_header(now, e, x, now, idle, 1) .. ARGV[8]
redis.call('SET', session, record, 'PXAT', e)
redis.call('ZADD', index, now, member)
index_keep_until(index, now, x + tonumber(ARGV[7]))
return {1, record, evicted, expired}
