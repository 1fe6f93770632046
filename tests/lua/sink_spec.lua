-- fluxgate.prometheus() at scale (issue 11 item 2): plain breakers feed one
-- engine counter sink per name as they run, so a scrape reads names, never
-- breakers (core.stats_visited() counts the breakers a scrape walked: only
-- shared ones); counters never decrease when breakers are closed or
-- collected; the state gauge follows transitions, closes, collections and
-- reloads exactly. Runs on every engine path (H.paths).
local fluxgate = require("fluxgate")
local core = require("fluxgate.core")
local H = dofile("tests/lua/helper.lua")

local P = assert(fluxgate.compile([[
breaker sink_a { window = CountWindow(4) tripper = FailureStreak(2) retry = Cooldown(10s) permit = All() }
breaker sink_b { window = CountWindow(4) tripper = FailureStreak(1) retry = Cooldown(10s) permit = All() }
]], "sink.fgp"))

local function sample(text, series)
  local escaped = series:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?{}]", "%%%0")
  return tonumber(text:match("\n" .. escaped .. " (%d+)"))
end

local function calls(text, name, outcome)
  return sample(text, 'circuit_breaker_calls_total{circuit_name="' .. name .. '",outcome="' .. outcome .. '"}')
end

local function state(text, name, st)
  return sample(text, 'circuit_breaker_state{circuit_name="' .. name .. '",state="' .. st .. '"}')
end

local function opened(text, name)
  return sample(text, 'circuit_breaker_state_transition_total{circuit_name="' .. name ..
                '",old_state="closed",new_state="open"}')
end

local function run_on_paths(name, fn)
  for _, use_ffi in ipairs(H.paths()) do
    it(name .. " (" .. H.path_name(use_ffi) .. ")", function() H.with_path(use_ffi, fn) end)
  end
end

describe("prometheus() reads per-name sinks", function()
  after_each(function() collectgarbage(); collectgarbage() end)

  it("100k breakers of one name: the scrape walks none of them", function()
    local N = 100000
    local list = {}
    for i = 1, N do list[i] = assert(P:breaker("sink_a", { clock = H.clock(100).fn })) end
    H.pass(list[1], 3)
    H.fail(list[N], 2) -- opens
    local before = core.stats_visited()
    local text = fluxgate.prometheus()
    assert.are.equal(before, core.stats_visited()) -- O(names): no breaker visited
    assert.are.equal(N - 1, state(text, "sink_a", "closed"))
    assert.are.equal(1, state(text, "sink_a", "open"))
    assert.are.equal(3, calls(text, "sink_a", "success"))
    assert.are.equal(2, calls(text, "sink_a", "failure"))
    assert.are.equal(1, opened(text, "sink_a"))
    for i = 1, N do list[i]:close() end
  end)

  it("shared breakers are walked, once each (their counters are the shared block's), and stay after their last handle", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local s1 = assert(P:shared_breaker("sink_a", { dir = dir, zone = "sinkz" }))
    H.pass(s1, 4)
    local before = core.stats_visited()
    local base = fluxgate.prometheus()
    assert.are.equal(before + 1, core.stats_visited())
    s1:close()
    local after = fluxgate.prometheus()
    assert.are.equal(before + 1, core.stats_visited())
    -- its calls were never in the per-process sink, and its zone still
    -- holds them (the instance's breaker): counters never decrease
    assert.are.equal(calls(base, "sink_a", "success"), calls(after, "sink_a", "success"))
    os.execute("rm -rf " .. dir)
    package.loaded["fluxgate.paths"].forget_zones()
  end)

  run_on_paths("counters never decrease when breakers are closed or collected", function()
    local base = fluxgate.prometheus() -- earlier tests' counts of sink_b stay: compare with them
    local function delta(text, o) return (calls(text, "sink_b", o) or 0) - (calls(base, "sink_b", o) or 0) end
    local list = {}
    for i = 1, 10 do
      list[i] = assert(P:breaker("sink_b", { clock = H.clock(100).fn }))
      H.pass(list[i], 1)
    end
    H.fail(list[1], 1) -- opens (FailureStreak(1))
    H.rejection(list[1])
    local first = fluxgate.prometheus()
    list[1]:close()
    for i = 2, 5 do list[i] = nil end
    collectgarbage(); collectgarbage()
    local second = fluxgate.prometheus()
    for _, o in ipairs({ "success", "failure", "rejected" }) do
      assert.is_true(calls(second, "sink_b", o) >= calls(first, "sink_b", o), o)
    end
    assert.are.equal(10, delta(second, "success"))
    assert.are.equal(1, delta(second, "rejected"))
    assert.are.equal(1, (opened(second, "sink_b") or 0) - (opened(base, "sink_b") or 0))
    assert.are.equal(5, state(second, "sink_b", "closed")) -- 6..10
    assert.are.equal(0, state(second, "sink_b", "open"))
    for i = 6, 10 do list[i]:close() end
    local third = fluxgate.prometheus()
    assert.is_nil(state(third, "sink_b", "closed")) -- nothing live: no gauge
    assert.are.equal(10, delta(third, "success"))
    assert.are.equal(1, delta(third, "failure"))
  end)

  run_on_paths("state counts follow transitions, commands and reloads", function()
    local c = H.clock(100)
    local a = assert(P:breaker("sink_a", { clock = c.fn }))
    local b = assert(P:breaker("sink_a", { clock = c.fn }))
    local base = fluxgate.prometheus()
    local closed0 = state(base, "sink_a", "closed") or 0
    local success0 = calls(base, "sink_a", "success") or 0
    H.fail(a, 2)
    b:force_open()
    local t = fluxgate.prometheus()
    assert.are.equal(1, state(t, "sink_a", "open") - (state(base, "sink_a", "open") or 0))
    assert.are.equal(1, state(t, "sink_a", "forced_open") - (state(base, "sink_a", "forced_open") or 0))
    c:advance(11)
    H.pass(a, 1) -- half_open -> closed
    b:reset()
    t = fluxgate.prometheus()
    assert.are.equal(closed0, state(t, "sink_a", "closed"))
    assert.are.equal(success0 + 1, calls(t, "sink_a", "success"))
    -- a reload under another name: the breaker is counted there from now
    -- on; what it counted stays with its old name
    local b_before = calls(t, "sink_b", "success") or 0
    assert.is_true(a:reload(P, "sink_b"))
    H.pass(a, 2)
    local r = fluxgate.prometheus()
    assert.are.equal(closed0 - 1, state(r, "sink_a", "closed"))
    assert.are.equal(success0 + 1, calls(r, "sink_a", "success"))
    assert.are.equal(b_before + 2, calls(r, "sink_b", "success"))
    assert.is_true((state(r, "sink_b", "closed") or 0) >= 1)
    H.fail(a, 1) -- FailureStreak(1): opens under its new name
    r = fluxgate.prometheus()
    assert.are.equal(1, state(r, "sink_b", "open"))
    a:close()
    b:close()
    r = fluxgate.prometheus()
    assert.are.equal((state(r, "sink_b", "open") or 0), 0)
    assert.are.equal(success0 + 1, calls(r, "sink_a", "success"))
  end)
end)
