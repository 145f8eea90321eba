--[[
  Include: the pending entries list (PEL) of a consumer group.
]]

-- The consumer holding pending entry `id` in `group` and its delivery count, or nil when the
-- entry is not pending. NOGROUP (a reply error) when the stream or the group does not exist.
local function pending_of(stream, group, id)
  local row = redis.call('XPENDING', stream, group, id, id, 1)[1]
  if not row then return nil end
  return row[2], tonumber(row[4])
end

-- XACK of `ids` (a Lua array) in chunks, so that no unpack exceeds Lua's stack. Returns how
-- many were pending.
local function ack_all(stream, group, ids)
  local acked = 0
  for first = 1, #ids, 500 do
    acked = acked + redis.call('XACK', stream, group, unpack(ids, first, math.min(first + 499, #ids)))
  end
  return acked
end
