--[[
  Take pending entries of a consumer group for one consumer, with their delivery counts.

  Input:
    KEYS[1] stream
    KEYS[2] dead            the stream's dead-letter stream (same hash tag)
    ARGV[1] mode            'own': re-read this consumer's own pending entries with ids after
                            ARGV[4] (XREADGROUP with an id: a consumer draining what it held
                            before a restart); 'idle': take entries of any consumer of the group
                            pending for at least ARGV[5] ms (XAUTOCLAIM from cursor ARGV[4])
    ARGV[2] group
    ARGV[3] consumer
    ARGV[4] from            'own': the id after which to read ('0-0' to start); 'idle': the
                            XAUTOCLAIM cursor ('0-0' to start a pass)
    ARGV[5] minIdleMs       'idle' only (ignored for 'own')
    ARGV[6] count           most entries to look at
    ARGV[7] maxDeliveries   an entry whose delivery count is now above it is not returned: it
                            moves to the dead-letter stream (its consumers crashed or stalled
                            that often) and is acked
    ARGV[8] deadMaxLen      MAXLEN ~ of the dead-letter stream (0: never trimmed)

  Both reads count a delivery (Redis semantics); the count is read back with XPENDING. An entry
  trimmed away while pending is acked and skipped, and counted (XREADGROUP returns it without
  fields; XAUTOCLAIM reports it as deleted and drops it from the PEL itself). The dead letter
  names this consumer (for an idle claim: the claiming one, since XAUTOCLAIM has handed the entry
  over before its count is read; recording the previous owner would take a second, unbounded
  scan of the PEL with XPENDING) and the deliveries the entry had (its count before this claim).

  Output:
    {next, deadLettered, trimmed, {id, data, onlyGroup, deliveries, id, data, ...}}
      next         the `from` of the next call of the pass ('own': the last id read; 'idle':
                   XAUTOCLAIM's cursor, also when none of the entries it looked at was idle);
                   '' when the pass is complete
      trimmed      entries trimmed away while pending, now out of the PEL
      onlyGroup    field `g`, '' when the entry has none
    A NOGROUP reply error when the stream or the group does not exist.
]]
--! include include/entry.lua
--! include include/pending.lua
--! include include/dead-letter.lua

local stream, dead = KEYS[1], KEYS[2]
local mode, group, consumer, from = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local min_idle, count, max_deliveries, dead_max_len = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])

local read, continue_from, deleted = {}, '', 0
if mode == 'own' then
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, from)
  if reply and reply[1] then read = reply[1][2] end
  if #read >= count then continue_from = read[#read][1] end
else
  local reply = redis.call('XAUTOCLAIM', stream, group, consumer, min_idle, from, 'COUNT', count)
  read = reply[2]
  if reply[1] ~= '0-0' then continue_from = reply[1] end
  if reply[3] then deleted = #reply[3] end
end

local out, trimmed, dead_lettered = {}, {}, 0
for _, entry in ipairs(read) do
  local id, fields = entry[1], entry[2]
  if not fields then
    trimmed[#trimmed + 1] = id
  else
    local _, deliveries = pending_of(stream, group, id)
    local data = entry_field(fields, 'd') or ''
    if deliveries > max_deliveries then
      local had = deliveries - 1
      local times = had == 1 and ' time' or ' times'
      dead_letter(stream, dead, group, consumer, id, data,
        'delivered ' .. had .. times .. ' without an acknowledgement (its consumers crashed or stalled)', had, dead_max_len)
      dead_lettered = dead_lettered + 1
    else
      out[#out + 1] = id
      out[#out + 1] = data
      out[#out + 1] = entry_field(fields, 'g') or ''
      out[#out + 1] = deliveries
    end
  end
end
ack_all(stream, group, trimmed)
return {continue_from, dead_lettered, #trimmed + deleted, out}
