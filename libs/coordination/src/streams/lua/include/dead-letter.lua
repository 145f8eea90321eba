--[[
  Include: moving an entry to the dead-letter stream of its stream (same hash tag).

  A dead letter's fields: `d` the payload, `e` the entry's id in the stream, `g` the group,
  `c` the consumer, `err` why it was given up, `n` its deliveries. The dead-letter stream is
  trimmed `MAXLEN ~ dead_max_len` (0: never trimmed).
]]
--! include entry.lua

-- Appends the dead letter and acks the entry in the group (the entry leaves the PEL).
local function dead_letter(stream, dead, group, consumer, id, data, err, deliveries, dead_max_len)
  entry_append(dead, dead_max_len, 'd', data, 'e', id, 'g', group, 'c', consumer, 'err', err, 'n', deliveries)
  redis.call('XACK', stream, group, id)
end
