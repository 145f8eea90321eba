--[[
  Include: one session record, stored as ONE Redis string (not a hash: a hash of ~14 fields
  with a value over 64 bytes takes the hashtable encoding, twice the memory, and HGETALL
  replies 28 bulk strings). The layout, byte positions 1-based as in Lua:

    <format><l><e><x><t><i><v><body>

    bytes  1       format   '1' (this layout; another character is another layout)
    bytes  2..14   l        last activity, epoch ms      13 decimal digits, zero-padded
    bytes 15..27   e        idle expiry, epoch ms        13 digits
    bytes 28..40   x        absolute expiry, epoch ms    13 digits
    bytes 41..53   t        created at, epoch ms         13 digits
    bytes 54..64   i        idle lifetime, ms            11 digits
    bytes 65..74   v        version                      10 digits
    bytes 75..     body     a JSON object of every other field (`u c w m d:<name>`): field ->
                            string, exactly the SessionFields strings ({} when none)

  The header is fixed-width so that a script reads a time field with one string.sub and a
  touch rewrites `l` and `e` (adjacent) with one SETRANGE in place; decimal digits keep the
  record readable in redis-cli at no cost in memory (the value's allocation size class is the
  same as with base36 for a typical session). The client (redis-session.store.ts,
  `decodeRecord`) slices the header by position and parses the body with one JSON.parse.
  The key expires at `e` (PEXPIREAT / SET PXAT), and `e` <= `x`.
]]

local RECORD_FORMAT = '1'
-- First byte of the body (the header is 74 bytes).
local RECORD_BODY = 75

-- The header of a record (epoch ms and ms as integers); an error when a value does not fit
-- its width (restored values are checked before, see dumped-record.ts; `v` would need 10^10 updates).
local function record_header(l, e, x, t, i, v)
  local header = string.format('%s%013d%013d%013d%013d%011d%010d', RECORD_FORMAT, l, e, x, t, i, v)
  if #header ~= RECORD_BODY - 1 then error('a session time field does not fit the record header: ' .. header) end
  return header
end

-- The JSON body of a table of fields (field -> string); an empty table is `{}`, whatever the
-- cjson build's default for empty tables.
local function record_body(fields)
  if next(fields) == nil then return '{}' end
  return cjson.encode(fields)
end

-- The fields of the body of `value`, as a table (field -> string).
local function record_fields(value)
  return cjson.decode(string.sub(value, RECORD_BODY))
end

local function record_last_activity(value) return tonumber(string.sub(value, 2, 14)) end
local function record_idle(value) return tonumber(string.sub(value, 54, 64)) end
local function record_created(value) return tonumber(string.sub(value, 41, 53)) end
local function record_version(value) return tonumber(string.sub(value, 65, 74)) end

-- The record at `key` and its absolute expiry, or nil when the key is gone or past `x`
-- (never returned). An error for a value of another layout.
local function record_live(key, now)
  local value = redis.call('GET', key)
  if not value then return nil end
  if string.sub(value, 1, 1) ~= RECORD_FORMAT then error('unknown session record format at ' .. key) end
  local x = tonumber(string.sub(value, 28, 40))
  if x <= now then return nil end
  return value, x
end

-- `l` and `e` as they sit in the header (bytes 2..27).
local function record_activity(l, e)
  return string.format('%013d%013d', l, e)
end

-- `i` (an idle lifetime in ms) as it sits in the header (bytes 54..64); an error, before
-- anything is written, when it does not fit.
local function record_idle_digits(idle_ms)
  local digits = string.format('%011d', idle_ms)
  if #digits ~= 11 then error('a session idle lifetime does not fit the record header: ' .. digits) end
  return digits
end

-- Rewrites `i` in place with `digits` (from record_idle_digits). Returns the record as updated.
local function record_set_idle(key, value, digits)
  redis.call('SETRANGE', key, 53, digits)
  return string.sub(value, 1, 53) .. digits .. string.sub(value, 65)
end

-- Records activity at `now` in place: l = now, e = now + idle_ms but at most x, the key
-- expiring at e. Returns the record as updated.
local function record_touch(key, value, now, idle_ms, x)
  local e = math.min(now + idle_ms, x)
  local activity = record_activity(now, e)
  redis.call('SETRANGE', key, 1, activity)
  redis.call('PEXPIREAT', key, e)
  return RECORD_FORMAT .. activity .. string.sub(value, 28)
end
