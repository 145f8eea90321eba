--[[
  Shared include: how long a fencing counter lives after it was seeded (7 days, in ms). Its one
  home, included by fence.lua (fence_next) and mutex-fast-path.lua (the same written out there),
  which write every seed (a counter found missing) as SET <digits> PX FENCE_RETENTION_MS and
  every later token as SET <digits> KEEPTTL, keeping that expiry. So the counter of a lock in
  use is seeded again from the server clock at most once per retention, where its token is the
  clock as always (see fence.lua), above every token issued before. A lock name used once
  leaves its counter for at most this long instead of forever. memory-lock.store.ts holds the
  same figure for the memory driver.
]]
local FENCE_RETENTION_MS = 604800000
