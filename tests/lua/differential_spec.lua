-- Two breakers made from one spec, one seed and one scripted clock, one on
-- the hot path (Lua 5.4's per-breaker closures, LuaJIT's FFI) and one on the
-- generic protocol, get the same long random sequence of operations: calls
-- with every kind of outcome (slow ones too), call_with_fallback, tokens
-- acquired and released out of order (some twice), the clock moving, manual
-- commands. After every step they must have answered alike, be in the same
-- state with the same window, and have told their listeners and their
-- Custom() predicate the same things.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

-- Under LuaJIT the FFI path is compared with the classic C API (the
-- internal switch is in package.loaded["fluxgate.paths"]); Lua 5.4 has one
-- path, so there is nothing to compare there.
local paths = H.engine_paths
local hot_flag = paths.has_ffi and "ffi" or nil

-- Park and Miller's generator: its products stay below 2^53, so a seed means
-- the same sequence on Lua 5.4 (integers) and LuaJIT (doubles).
local function lcg(seed)
  local s = seed
  return function(n)
    s = (s * 16807) % 2147483647
    return s % n + 1
  end
end

-- The values calls return and raise: the same objects for both breakers.
local V = {
  ok503 = { status = 503 },
  ok200 = { status = 200 },
  proxied = setmetatable({}, { __index = function(_, k) if k == "status" then return 502 end end }),
  timeout = { type = "timeout", message = "slow upstream" },
  custom = { type = "custom", status = 599 },
  other = { type = "other" },
}

-- Under LuaJIT a breaker with Custom() predicates takes the classic path
-- (the FFI cannot call back into Lua), so the hot path is compared twice:
-- with the predicate (Lua 5.4's closures build its table lazily) and
-- without (LuaJIT's FFI).
local TRACKERS = { 'Custom("spy") | TypeOf("timeout") | Status(500..599)', 'TypeOf("timeout", "custom") | Status(500..599)' }
local SPEC = {
  window = "CountWindow(10)",
  tripper = "FailureStreak(3) | (MinRequests(5) & (FailureRate(0.5) | SlowRate(0.5, threshold = 1s)))",
  retry = "Backoff(2s, multiplier = 2, max_duration = 20s, jitter_ratio = 0.3)",
  permit = "RampUp(0.3, 1, 10s)",
  max_half_open_calls = 2,
}

-- One breaker with its own clock, listener log and predicate log.
local function side(hot, seed, tracker)
  local s = { now = 100.0, log = {} }
  local spec = { clock = function() return s.now end, seed = seed,
                 listeners = { function(sig)
                   s.log[#s.log + 1] = { sig.old_state, sig.new_state, sig.timestamp, sig.reason,
                                         sig.metrics.total_count, sig.metrics.failure_count }
                 end },
                 custom = { spy = function(o)
                   local copy = {}
                   for k, v in pairs(o) do copy[k] = v end
                   s.log[#s.log + 1] = copy
                   return o.type == "custom"
                 end } }
  for k, v in pairs(SPEC) do spec[k] = v end
  spec.tracker = tracker
  if not tracker:find("Custom", 1, true) then spec.custom = nil end
  H.with_path(hot, function() s.cb = H.new(spec, "diff") end)
  return s
end

-- A call's answer as plain data: rejections by what they say.
local function plain(ok, ...)
  local out = { n = select("#", ...) + 1, ok }
  for i = 1, out.n - 1 do
    local v = select(i, ...)
    if fluxgate.is_rejection(v) then v = ("rejected:%s:%s"):format(v.state, tostring(v.retry_after)) end
    out[i + 1] = v
  end
  return out
end

-- The operations, each done to one side with the draws `r` made for the step.
local function fn_for(s, kind)
  if kind == 1 then return function() return V.ok200 end end
  if kind == 2 then return function() return V.ok503 end end
  if kind == 3 then return function() return V.proxied end end
  if kind == 4 then return function() s.now = s.now + 1.5; return "slow" end end
  if kind == 5 then return function() return nil, "refused" end end
  if kind == 6 then return function() error(V.timeout) end end
  if kind == 7 then return function() error("x.lua:1: timeout", 0) end end
  if kind == 8 then return function() error(V.custom) end end
  return function() error(V.other) end
end
local FN_KINDS = 9

local ops = {
  function(s, r) return plain(pcall(s.cb.call, s.cb, fn_for(s, r[1]))) end,
  function(s, r)
    return plain(pcall(s.cb.call_with_fallback, s.cb, fn_for(s, r[1]), function(e) return "fallback", e end))
  end,
  function(s) -- acquire a token
    local t, rej = s.cb:acquire()
    if t then s.tokens[#s.tokens + 1] = t; return { "token" } end
    return plain(true, t, rej)
  end,
  function(s, r) -- release one (perhaps again), with some outcome
    if #s.tokens == 0 then return { "none" } end
    local t = s.tokens[(r[2] - 1) % #s.tokens + 1]
    local outcomes = { { true, 200 }, { true, 503 }, { true, V.ok503 }, { true, V.proxied },
                       { false, "y.lua:2: reset" }, { false, V.timeout }, { false, V.custom }, { false, V.other } }
    local o = outcomes[(r[1] - 1) % #outcomes + 1]
    return plain(pcall(s.cb.release, s.cb, t, o[1], o[2]))
  end,
  function(s, r) s.now = s.now + (r[1] - 1) * 0.5; return { "tick" } end,
  function(s) return { s.cb:state() } end,
  function(s, r)
    local commands = { "reset", "reset", "force_open", "disable", "metrics_only" }
    local c = commands[(r[1] - 1) % #commands + 1]
    s.cb[c](s.cb)
    return { c }
  end,
}
-- How often each operation is drawn (out of the sum).
local WEIGHTS = { 40, 12, 10, 10, 14, 3, 1 }

local function draw_op(rand)
  local total = 0
  for _, w in ipairs(WEIGHTS) do total = total + w end
  local x = rand(total)
  for i, w in ipairs(WEIGHTS) do
    if x <= w then return i end
    x = x - w
  end
end

local function view(s)
  local info = s.cb:info()
  return { info.state, info.changed_at, info.reopens, info.metrics }
end

if hot_flag then
  describe("the hot path and the generic protocol (" .. hot_flag .. ")", function()
    for _, tracker in ipairs(TRACKERS) do
      for _, seed in ipairs({ 1, 42, 2026 }) do
        it(("answer alike over 2000 random steps, seed %d, tracker %s"):format(seed, tracker), function()
          local rand = lcg(seed)
          local hot, generic = side(true, seed, tracker), side(false, seed, tracker)
          hot.tokens, generic.tokens = {}, {}
          local states, logged = {}, 0
          for step = 1, 2000 do
            local op = draw_op(rand)
            local r = { rand(FN_KINDS), rand(64) }
            local a, b = ops[op](hot, r), ops[op](generic, r)
            local where = ("seed %d, step %d, operation %d (%d, %d)"):format(seed, step, op, r[1], r[2])
            assert.are.same(b, a, where .. ": the answers")
            assert.are.same(view(generic), view(hot), where .. ": state and window")
            assert.are.equal(#generic.log, #hot.log, where .. ": as many signals and predicate calls")
            for i = logged + 1, #hot.log do
              assert.are.same(generic.log[i], hot.log[i], where .. ": what listeners and predicate heard")
            end
            logged = #hot.log
            states[hot.cb:state()] = true
            if #hot.tokens > 8 then
              table.remove(hot.tokens, 1)
              table.remove(generic.tokens, 1)
            end
          end
          -- the sequence went through the whole state machine
          for _, st in ipairs({ "closed", "open", "half_open", "forced_open", "disabled", "metrics_only" }) do
            assert.is_true(states[st] ~= nil, "never saw " .. st)
          end
        end)
      end
    end
  end)
end
