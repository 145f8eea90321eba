--[[
  After a handler failed on an entry: leave it pending for a retry, or move it to the
  dead-letter stream once it has had its deliveries.

  Input:
    KEYS[1] stream
    KEYS[2] dead            the stream's dead-letter stream (same hash tag)
    ARGV[1] group
    ARGV[2] consumer
    ARGV[3] id
    ARGV[4] error           the handler's error message
    ARGV[5] maxDeliveries
    ARGV[6] deadMaxLen      MAXLEN ~ of the dead-letter stream (0: never trimmed)

  Output:
    'gone'    the entry is not pending for this consumer (acked, reclaimed by another consumer)
    'trimmed' it was trimmed away while pending for this consumer: acked here, whatever its
              count (nothing can deliver it again)
    'retry'   its delivery count is below maxDeliveries: it stays pending (an idle claim
              delivers it again)
    'dead'    moved to the dead-letter stream with the error, the group, this consumer and its
              delivery count, and acked
    A NOGROUP reply error when the stream or the group does not exist.
]]
--! include include/entry.lua
--! include include/pending.lua
--! include include/dead-letter.lua

local stream, dead = KEYS[1], KEYS[2]
local group, consumer, id, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max_deliveries, dead_max_len = tonumber(ARGV[5]), tonumber(ARGV[6])

local owner, deliveries = pending_of(stream, group, id)
if owner ~= consumer then return 'gone' end
local entry = redis.call('XRANGE', stream, id, id)[1]
if not entry then
  redis.call('XACK', stream, group, id)
  return 'trimmed'
end
if deliveries < max_deliveries then return 'retry' end
dead_letter(stream, dead, group, consumer, id, entry_field(entry[2], 'd') or '', err, deliveries, dead_max_len)
return 'dead'
