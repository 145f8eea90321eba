--[[
  ThrottlerStorage.increment for one (key, throttler) pair: @nestjs/throttler 6's in-memory
  storage (ThrottlerStorageService) transcribed, on the Redis clock. Each hit lives `ttl` ms (a
  sliding log); the window behind X-RateLimit-Reset starts at a hit and is renewed by the first
  hit after it ends. With a block duration, the hit that takes the count past the limit is
  counted and starts a block: while it lasts no hit is counted, and the first hit after it
  forgets every earlier one and passes unchecked. Without one (block <= 0), a hit at the limit
  is refused uncounted. A record whose window, block and hits have all ended is forgotten.

  KEYS[1]  the counter, a list: a record, then the expiry (ms) of each live hit, ascending. The
           record is one element, five doubles packed with struct.pack('<ddddd'):
             e  the window's end (ms)
             x  when the key expires (ms): what PEXPIRE was last set to
             b  the block's end (ms), 0 when not blocked
             t  the longest ttl among the live hits, 0 when none: a hit of a ttl at least that
                long expires last, so it is appended (RPUSH) without looking at the others
             o  the oldest live hit's expiry (ms), 0 when none: whether any hit has to go
           A list, not a sorted set: appending a hit costs the same at any length (a small
           sorted set parses every score on each insert). A hit that adds to the count is three
           commands: LINDEX (the record), PTTL (the clock), RPUSH (whose reply is the count).
  ARGV[1]  ttl (ms, integer > 0)
  ARGV[2]  limit
  ARGV[3]  block duration (ms, integer; <= 0: no block)
  ARGV[4]  optional: the current time (ms) of the application's injected clock; absent: the
           server's (TIME when the key is new, then x - PTTL)
  Returns  ((total hits × 2^16 + window ends in s) × 2^16 + block ends in s) × 2 + blocked (0|1),
           one integer, when total < 2^20 and both times < 2^16 s (18 h); otherwise
           { total hits, window ends in (s), blocked (0|1), block ends in (s) }. Times are rounded
           up; the block's is 0 unless blocked.
]]
local key = KEYS[1]
local ttl, limit, block = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])

-- The reply: one integer when the figures fit in 53 bits (a reply array costs Redis and the
-- client more): total (20 bits), window (16), block (16), blocked (1).
local function reply(total, window_s, until_block, blocked)
  if total < 1048576 and window_s < 65536 and until_block < 65536 then
    return ((total * 65536 + window_s) * 65536 + until_block) * 2 + blocked
  end
  return { total, window_s, blocked, until_block }
end

local record = redis.call('LINDEX', key, 0)
local e, x, b, t, o, count
if record then
  e, x, b, t, o = struct.unpack('<ddddd', record)
  -- The server clock, read off the key's own expiry: x is when it expires, PTTL how long until
  -- then (an integer reply, cheaper than TIME's). Every call on a key but its first reads it so,
  -- so the key's hits, window and block all stand on one timeline: the server's clock.
  if now == nil then
    local left = redis.call('PTTL', key)
    if left > 0 then now = x - left end
  end
  -- The common hit, answered as the general code below would, with the least work: live hits
  -- of this ttl and none expired, no block, the window and the key outliving this hit.
  if now ~= nil and o > now and b == 0 and e > now and ttl == t and block > 0 and now + ttl <= x then
    local n = redis.call('RPUSH', key, now + ttl) - 1
    if n <= limit then return reply(n, math.ceil((e - now) / 1000), 0, 0) end
    b = now + block
    local expire
    if b > x then
      x = b + ttl
      expire = math.ceil(x - now)
    end
    redis.call('LSET', key, 0, struct.pack('<ddddd', e, x, b, t, o))
    if expire then redis.call('PEXPIRE', key, expire) end
    return reply(n, math.ceil((e - now) / 1000), math.ceil(block / 1000), 1)
  end
else
  b, t, o, count = 0, 0, 0, 0
end
--! include ../../../lua/server-time.lua
if now == nil then now = server_time_ms() end

-- The record is in place (rewritten with LSET when it changed) or out of the list (popped, or
-- never written: pushed whole at the end). `count`: the live hits, once known.
local in_place = record and true or false

if o > 0 and o <= now then
  -- Drop the expired hits (the first k), popped together with the record.
  local k, from, chunk, i = 0, 1
  repeat
    chunk = redis.call('LRANGE', key, from, from + 63)
    i = 1
    while i <= #chunk and tonumber(chunk[i]) <= now do i = i + 1 end
    k = k + i - 1
    from = from + 64
  until i <= #chunk or #chunk < 64
  o = tonumber(chunk[i]) or 0
  redis.call('LPOP', key, 1 + k)
  in_place = false
  count = redis.call('LLEN', key)
  -- No hit left: the key is gone (and its expiry), and no ttl bounds the next hit's place.
  if count == 0 then x, t = nil, 0 end
end

-- A record whose window, block and hits have all ended is forgotten, as @nestjs/throttler's
-- sweep forgets it (every minute): the next hit starts afresh (for a limit of 0: checked).
if e ~= nil and e <= now and o == 0 and (b == 0 or b <= now) then
  if in_place or count > 0 then redis.call('DEL', key) end
  in_place, count, x, b, t = false, 0, nil, 0, 0
end

local changed = false
if e == nil or e <= now then
  e, changed = now + ttl, true
end

local blocked, until_block, hit, restarted = false, 0, false, false
if block <= 0 then
  if count == nil then count = redis.call('LLEN', key) - 1 end
  blocked = count >= limit
  if blocked then
    -- Until the oldest live hit leaves (the window's end when there is none: a limit of 0).
    until_block = math.ceil(((count == 0 and e or o) - now) / 1000)
  else
    hit = true
  end
elseif b > 0 then
  blocked = true
  until_block = math.ceil((b - now) / 1000)
  if until_block <= 0 then
    -- The block is over: every hit is forgotten, and this one counts afresh, unchecked (as
    -- @nestjs/throttler does: even a limit of 0 lets it through).
    redis.call('DEL', key)
    in_place, count, x, b, t, o = false, 0, nil, 0, 0, 0
    blocked, until_block, hit, restarted = false, 0, true, true
  end
else
  hit = true
end

local total
local expiry = now + ttl
if hit then
  local n
  if o > 0 and ttl < t and tonumber(redis.call('LINDEX', key, -1)) > expiry then
    -- A shorter ttl than an earlier hit's: this hit expires before some, so the hits are
    -- rewritten in expiry order (rare: a throttler whose ttl changed while its hits live).
    local hits = redis.call('LRANGE', key, in_place and 1 or 0, -1)
    local at = #hits + 1
    while at > 1 and tonumber(hits[at - 1]) > expiry do at = at - 1 end
    table.insert(hits, at, expiry)
    redis.call('DEL', key)
    for from = 1, #hits, 1000 do redis.call('RPUSH', key, unpack(hits, from, math.min(from + 999, #hits))) end
    in_place, x, n, o = false, nil, #hits, tonumber(hits[1])
  else
    n = redis.call('RPUSH', key, expiry)
    if in_place then n = n - 1 end
    if o == 0 then o, changed = expiry, true end
  end
  count = n
  if ttl > t then t, changed = ttl, true end
  if block > 0 and count > limit and not restarted then
    blocked, b, changed = true, now + block, true
    until_block = math.ceil(block / 1000)
  end
  total = count
else
  if count == nil then count = redis.call('LLEN', key) - 1 end
  -- A refused hit without a block reports the count it would have made.
  total = count
  if block <= 0 then total = count + 1 end
end

-- The key outlives everything it holds: extended (by another ttl, so that the hits of the next
-- ttl need no PEXPIRE of their own) only when something would outlive it.
local need = e
if b > need then need = b end
if hit and expiry > need then need = expiry end
local expire
if x == nil or need > x then
  x, changed = need + ttl, true
  expire = math.ceil(x - now)
end

if not in_place then
  redis.call('LPUSH', key, struct.pack('<ddddd', e, x, b, t, o))
elseif changed then
  redis.call('LSET', key, 0, struct.pack('<ddddd', e, x, b, t, o))
end
if expire then redis.call('PEXPIRE', key, expire) end

return reply(total, math.ceil((e - now) / 1000), until_block, blocked and 1 or 0)
