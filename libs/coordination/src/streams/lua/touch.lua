--[[
  Renew a consumer's in-flight entries: reset their idle time without counting a delivery, so
  that no other consumer's idle claim takes them while their handlers run.

  Input:
    KEYS[1] stream
    ARGV[1] group
    ARGV[2] consumer
    ARGV[3..] ids

  Each id still pending for THIS consumer is renewed with XCLAIM <consumer> 0 <id> JUSTID (JUSTID:
  no delivery counted). The owner is checked first with XPENDING: an entry another consumer has
  reclaimed meanwhile is never taken back. XCLAIM drops an entry trimmed away while pending from
  the PEL and does not return it: it is lost too.

  Output:
    the ids no longer pending for this consumer (acked, reclaimed by another consumer, or trimmed)
    A NOGROUP reply error when the stream or the group does not exist.
]]
--! include include/pending.lua

local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local owner = pending_of(stream, group, id)
  if owner ~= consumer or #redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID') == 0 then
    lost[#lost + 1] = id
  end
end
return lost
