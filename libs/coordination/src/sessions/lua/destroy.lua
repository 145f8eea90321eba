--[[
  Destroy a session: delete its record and remove it from its user's index.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] session   the record (`prefix .. member`, same slot)
    ARGV[1] member    the session's member in the index

  The member leaves the index even when its record is already gone.

  Output:
    the record as it was (the string, see include/session-record.lua)    nil when the session was gone
]]
local index, session = KEYS[1], KEYS[2]
local record = redis.call('GETDEL', session)
redis.call('ZREM', index, ARGV[1])
return record
