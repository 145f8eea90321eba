--[[
  Acknowledge entries of a consumer group (XACK), telling a missing group from entries that
  were no longer pending.

  Input:
    KEYS[1] stream
    ARGV[1] group
    ARGV[2..] ids

  XACK answers 0 for a group or stream that does not exist; when fewer ids were pending than
  given, XPENDING checks that the group exists (it raises NOGROUP otherwise). The common case
  (all were pending) costs the XACK alone.

  Output:
    how many of the ids were pending
    A NOGROUP reply error when the stream or the group does not exist.
]]
--! include include/pending.lua

local stream, group = KEYS[1], ARGV[1]
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local acked = ack_all(stream, group, ids)
if acked < #ids then redis.call('XPENDING', stream, group) end
return acked
