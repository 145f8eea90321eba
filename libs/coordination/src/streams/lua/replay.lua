--[[
  Replay a dead letter: append its payload anew to the stream, for its group only, and delete it
  from the dead-letter stream, in one step.

  Input:
    KEYS[1] stream
    KEYS[2] dead            the stream's dead-letter stream (same hash tag)
    ARGV[1] deadId          the dead letter's id
    ARGV[2] maxLen          MAXLEN ~ of the stream (0: never trimmed)

  The new entry carries `d` (the payload) and `g` (the dead letter's group): consumers of other
  groups ack it without running their handler.

  Output:
    the new entry's id; nil when no such dead letter exists (never written, trimmed, replayed)
]]
--! include include/entry.lua

local stream, dead, dead_id, max_len = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2])
local letter = redis.call('XRANGE', dead, dead_id, dead_id)[1]
if not letter then return false end
local data, group = entry_field(letter[2], 'd') or '', entry_field(letter[2], 'g') or ''
local id = entry_append(stream, max_len, 'd', data, 'g', group)
redis.call('XDEL', dead, dead_id)
return id
