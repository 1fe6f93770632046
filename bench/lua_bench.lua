-- bench/lua_bench.lua -- what the Lua binding adds to a protected call.
-- Runs under lua5.4 and luajit (`make bench-lua` runs both). Every figure is
-- the best of several rounds and is printed beside a baseline measured in the
-- same run, so the ratio means something on any machine.
--   usage: lua5.4 bench/lua_bench.lua [iterations]
local fluxgate = require("fluxgate")

local N = tonumber(arg and arg[1]) or 1000000
local ROUNDS = 7
local now = os.clock
local interp = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")

-- Nanoseconds per iteration of run(n), best of ROUNDS.
local function ns(run)
  run(math.max(1, math.floor(N / 10))) -- warm up (and let LuaJIT compile)
  local best = math.huge
  for _ = 1, ROUNDS do
    local t0 = now()
    run(N)
    local dt = now() - t0
    if dt < best then best = dt end
  end
  return best / N * 1e9
end

local function line(what, t, base_what, base)
  print(string.format("%s %s: %.1f ns  %s: %.1f ns  overhead: %.1f ns  ratio: %.2f",
                      interp, what, t, base_what, base, t - base, t / base))
end

local function noop() end
-- The default tripper never trips on successes: every call is admitted.
local cb = assert(fluxgate.breaker("bench"))

local call_ns = ns(function(n) for _ = 1, n do cb:call(noop) end end)
local pcall_ns = ns(function(n) for _ = 1, n do pcall(noop) end end)
line("cb:call(noop)", call_ns, "pcall(noop)", pcall_ns)

-- The two-step protocol against two plain method calls that do nothing.
local plain = {}
function plain:acquire() return self end
function plain:release(_, _) end
local ar_ns = ns(function(n)
  for _ = 1, n do local t = cb:acquire(); cb:release(t, true) end
end)
local base_ns = ns(function(n)
  for _ = 1, n do local t = plain:acquire(); plain:release(t, true) end
end)
line("acquire+release", ar_ns, "two empty method calls", base_ns)

-- A breaker on a Lua clock reads it twice per call.
local t = 0
local clocked = assert(fluxgate.breaker("bench_clock", { clock = function() t = t + 1e-6; return t end }))
local clocked_ns = ns(function(n) for _ = 1, n do clocked:call(noop) end end)
line("cb:call(noop) with a Lua clock", clocked_ns, "pcall(noop)", pcall_ns)

-- A breaker with a Custom() predicate, which runs on every outcome and gets
-- a fresh outcome table each time: on Lua 5.4 the per-breaker closures build
-- it in C when the predicate runs; LuaJIT's such breakers take the protocol
-- written in Lua.
local custom = assert(fluxgate.breaker("bench_custom", {
  tracker = 'Custom("never") | Status(500..599)', custom = { never = function() return false end } }))
local custom_ns = ns(function(n) for _ = 1, n do custom:call(noop) end end)
line("cb:call(noop) with a Custom() tracker", custom_ns, "pcall(noop)", pcall_ns)

-- The classic API's two C calls alone (binding C code + engine), against two
-- C calls that do nothing. Lua 5.4's breakers above use the per-breaker
-- closures of fluxgate.lua and lua/fluxgate_fast.c instead; LuaJIT's, the FFI.
local core = require("fluxgate.core")
local ud = cb._ud
local acquire, release_ok, rawequal = core.acquire, core.release_ok, rawequal
local c_ns = ns(function(n)
  for _ = 1, n do
    local _, st, g, t0, slot, seq = acquire(ud)
    release_ok(ud, nil, st, g, t0, slot, seq)
  end
end)
local c_base_ns = ns(function(n) for i = 1, n do rawequal(i, n); rawequal(n, i) end end)
line("core.acquire+core.release_ok", c_ns, "two empty C calls", c_base_ns)
