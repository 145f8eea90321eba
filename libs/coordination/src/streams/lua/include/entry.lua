--[[
  Include: an entry's fields, and appending one.

  An entry is stored with field `d` (the serialized payload) and, when replayed from the
  dead-letter stream for one group, `g` (that group). Fields arrive from XRANGE / XREADGROUP /
  XAUTOCLAIM as a flat array {name, value, ...}; an entry trimmed away while pending arrives
  with `false` instead of its fields (XREADGROUP of own history).
]]

-- The value of field `name` in a flat {name, value, ...} array, or false.
local function entry_field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return false
end

-- XADD of the fields `...` (name, value, ...) with a new id, trimmed MAXLEN ~ max_len (0: never
-- trimmed: MAXLEN ~ 0 would empty the stream). Returns the new id.
local function entry_append(key, max_len, ...)
  if max_len > 0 then return redis.call('XADD', key, 'MAXLEN', '~', max_len, '*', ...) end
  return redis.call('XADD', key, '*', ...)
end
