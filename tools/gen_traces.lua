-- gen_traces.lua -- regenerates the example traces of `fluxgate simulate`
-- (policies/traces/*.csv). Run it as `make traces`, or:
--
--     lua5.4 tools/gen_traces.lua policies/traces
--
-- The output is deterministic: every trace draws from its own seeded
-- generator (a 64-bit LCG in Lua 5.4's wrapping integers, not math.random,
-- whose algorithm may change between Lua versions), and numbers are printed
-- with a fixed number of decimals. Rerunning it rewrites identical files.
--
-- Each trace is a story over a few minutes of traffic:
--   outage.csv    payments: a hard outage (timeouts, refused connections,
--                 503s) from 40 s to 85 s, a shaky recovery (one call in
--                 five still fails) until 100 s, then healthy again.
--   brownout.csv  a search service that does not fail but slows down from
--                 30 s to 80 s: most calls take seconds, a few time out.
--   flapping.csv  a matchmaking service that goes down and up again every
--                 15-25 s for four minutes.

local outdir = arg[1] or "policies/traces"

-- A deterministic uniform source in [0, 1): Knuth's MMIX LCG, top 53 bits.
local function generator(seed)
  local state = seed
  return function()
    state = state * 6364136223846793005 + 1442695040888963407
    return (state >> 11) / 9007199254740992.0
  end
end

-- Poisson arrivals: exponential gaps with the given mean rate (calls per second).
local function gap(rand, rate)
  return -math.log(1.0 - rand()) / rate
end

-- A log-normal duration around median seconds (sigma 0.5), by Box-Muller.
local function latency(rand, median)
  local u1, u2 = 1.0 - rand(), rand()
  local normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
  return median * math.exp(0.5 * normal)
end

local function pick(rand, choices)
  return choices[1 + math.floor(rand() * #choices)]
end

-- Writes rows { time, outcome, duration, status|nil } as CSV.
local function write(name, rows)
  local path = outdir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write("time,outcome,duration,status\n")
  for _, r in ipairs(rows) do
    f:write(string.format("%.3f,%s,%.3f,%s\n", r[1], r[2], r[3], r[4] and tostring(r[4]) or ""))
  end
  f:close()
  io.write(string.format("%s: %d calls\n", path, #rows))
end

-- A call from a healthy service: mostly 200s, now and then a 503 or a
-- cancelled request (which a good tracker ignores).
local function healthy(rand, t, median)
  local u = rand()
  if u < 0.01 then
    return { t, "ok", latency(rand, median), 503 }
  elseif u < 0.015 then
    return { t, "cancelled", latency(rand, median) }
  end
  return { t, "ok", latency(rand, median), 200 }
end

local function outage()
  local rand, rows, t = generator(20240101), {}, 0.0
  while true do
    t = t + gap(rand, 10)
    if t >= 180 then break end
    local failing = (t >= 40 and t < 85) or (t >= 85 and t < 100 and rand() < 0.2)
    if failing then
      local kind = pick(rand, { "timeout", "connection refused", "503" })
      if kind == "timeout" then
        rows[#rows + 1] = { t, "timeout", 2.0 }
      elseif kind == "connection refused" then
        rows[#rows + 1] = { t, "connection refused", 0.002 + 0.01 * rand() }
      else
        rows[#rows + 1] = { t, "ok", latency(rand, 0.02), 503 }
      end
    else
      rows[#rows + 1] = healthy(rand, t, 0.12)
    end
  end
  write("outage.csv", rows)
end

local function brownout()
  local rand, rows, t = generator(20240202), {}, 0.0
  while true do
    t = t + gap(rand, 15)
    if t >= 150 then break end
    if t >= 30 and t < 80 then
      local u = rand()
      if u < 0.05 then
        rows[#rows + 1] = { t, "timeout", 5.0 }
      elseif u < 0.75 then
        rows[#rows + 1] = { t, "ok", 1.0 + latency(rand, 1.2), 200 }
      else
        rows[#rows + 1] = { t, "ok", latency(rand, 0.3), 200 }
      end
    else
      rows[#rows + 1] = healthy(rand, t, 0.08)
    end
  end
  write("brownout.csv", rows)
end

local function flapping()
  local rand, rows, t = generator(20240303), {}, 0.0
  local up, switch_at = true, 20.0
  while true do
    t = t + gap(rand, 5)
    if t >= 240 then break end
    while t >= switch_at do
      up = not up
      switch_at = switch_at + 15 + 10 * rand()
    end
    if up or rand() < 0.2 then
      rows[#rows + 1] = healthy(rand, t, 0.05)
    else
      local kind = pick(rand, { "timeout", "disconnected", "500" })
      if kind == "timeout" then
        rows[#rows + 1] = { t, "timeout", 1.5 }
      elseif kind == "disconnected" then
        rows[#rows + 1] = { t, "disconnected", 0.01 }
      else
        rows[#rows + 1] = { t, "ok", latency(rand, 0.03), 500 }
      end
    end
  end
  write("flapping.csv", rows)
end

outage()
brownout()
flapping()
