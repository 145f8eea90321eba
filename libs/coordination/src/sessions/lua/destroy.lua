--[[
  Destroy a session: delete its record and remove it from its user's index.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] session   the record (`prefix .. member`, same slot)
    ARGV[1] member    the session's member in the index

  The member leaves the index even when its record is already gone: then the session expired
  (Redis dropped its key) and, as the index no longer names it, no later read or prune of the
  index reports it: this reply does.

  Output:
    {1, record}     destroyed: the record as it was (the string, see include/session-record.lua)
    {0, indexed}    the record was gone; indexed = 1 when the index still named the member (it
                    expired and is reported here), 0 when not
]]
local index, session = KEYS[1], KEYS[2]
local record = redis.call('GETDEL', session)
local indexed = redis.call('ZREM', index, ARGV[1])
if record then return {1, record} end
return {0, indexed}
