--[[
  ALGO[5]: GCRA (generic cell rate algorithm). Emission interval T = window / limit,
  tolerance = T * burst. Key: STRING holding the theoretical arrival time (us).
  A request of cost n is allowed when now >= tat + n * T - tolerance.
]]
ALGO[5] = {
  check = function(key, now, limit, window, burst, cost)
    local interval = window / limit
    local tolerance = interval * burst
    local tat = tonumber(redis.call('GET', key)) or now
    if tat < now then tat = now end
    local new_tat = tat + cost * interval
    local allow_at = new_tat - tolerance
    if now >= allow_at then
      return 1, math.floor((now - allow_at) / interval + 1e-9), new_tat - now, 0, new_tat
    end
    local remaining = math.floor((now - (tat - tolerance)) / interval + 1e-9)
    if remaining < 0 then remaining = 0 end
    return 0, remaining, tat - now, allow_at - now, tat
  end,
  commit = function(key, now, window, cost, member, new_tat)
    redis.call('SET', key, new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
  end,
}
