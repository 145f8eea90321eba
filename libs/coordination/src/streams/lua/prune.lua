--[[
  Delete the consumers of a group that hold no pending entry and have been idle longer than
  idleMs (consumers of processes that went away: default names are per process).

  Input:
    KEYS[1] stream
    ARGV[1] group
    ARGV[2] idleMs

  XINFO CONSUMERS lists each consumer with `pending` and `idle`; XGROUP DELCONSUMER deletes one.
  On Redis 7.0 `idle` counts from the consumer's last read that delivered entries, read of its
  own history, claim that took entries or renewal (a read that found nothing does not count;
  from 7.2 it does): a live consumer of a quiet stream may be pruned, which is harmless, since
  it holds nothing and the read that next delivers to it creates it again. A consumer holding
  entries is kept whatever its idle time: deleting it would drop its entries from the PEL (an
  idle claim takes them instead).

  Output:
    how many consumers were deleted
    A NOGROUP reply error when the stream or the group does not exist.
]]
--! include include/entry.lua
-- (entry_field reads any flat {name, value, ...} array: here a consumer's XINFO row.)

local stream, group, idle_ms = KEYS[1], ARGV[1], tonumber(ARGV[2])
-- XINFO CONSUMERS answers a missing stream with `ERR no such key`: NOGROUP, as the other scripts.
if redis.call('EXISTS', stream) == 0 then
  return redis.error_reply('NOGROUP No such key ' .. stream .. ' or consumer group ' .. group)
end
local deleted = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  if entry_field(consumer, 'pending') == 0 and entry_field(consumer, 'idle') > idle_ms then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, entry_field(consumer, 'name'))
    deleted = deleted + 1
  end
end
return deleted
