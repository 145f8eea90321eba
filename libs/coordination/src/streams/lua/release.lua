--[[
  Hand back entries a consumer was given but never ran (its read-ahead when it stops), so that
  the next idle claim of any consumer takes them at once, as if this delivery never happened.

  Input:
    KEYS[1] stream
    ARGV[1] group
    ARGV[2] consumer
    ARGV[3] idleMs          the idle time to give them (the consumers' claimIdleMs)
    ARGV[4..] ids

  Each id still pending for THIS consumer (checked first with XPENDING: another consumer's entry
  is never touched) is claimed again by it with XCLAIM <consumer> 0 <id> IDLE <idleMs>
  RETRYCOUNT <deliveries - 1> JUSTID: idle long enough for the next idle claim, and with the
  delivery count it had before this delivery, which the next claim counts again. XCLAIM drops an
  entry trimmed away while pending from the PEL and does not return it: not counted.

  Output:
    how many ids were handed back
    A NOGROUP reply error when the stream or the group does not exist.
]]
--! include include/pending.lua

local stream, group, consumer, idle_ms = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local released = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local owner, deliveries = pending_of(stream, group, id)
  if owner == consumer then
    local retry_count = math.max(deliveries - 1, 0)
    released = released + #redis.call('XCLAIM', stream, group, consumer, 0, id, 'IDLE', idle_ms, 'RETRYCOUNT', retry_count, 'JUSTID')
  end
end
return released
