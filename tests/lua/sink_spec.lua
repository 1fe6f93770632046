-- fluxgate.prometheus() at scale (issue 11 item 2): plain breakers feed one
-- engine counter sink per name as they run, so a scrape reads names, never
-- breakers (core.stats_visited() counts the breakers a scrape walked: only
-- shared ones); counters never decrease when breakers are closed or
-- collected; the state gauge follows transitions, closes, collections and
-- reloads exactly. Runs on every engine path (H.paths).
local fluxgate = require("fluxgate")
local core = require("fluxgate.core")
local H = dofile("tests/lua/helper.lua")

local SRC = [[
breaker sink_a { window = CountWindow(4) tripper = FailureStreak(2) retry = Cooldown(10s) permit = All() }
breaker sink_b { window = CountWindow(4) tripper = FailureStreak(1) retry = Cooldown(10s) permit = All() }
]]

-- SRC compiled for one test under names no other test uses
-- (H.fresh_policy): a name's counters are every plain breaker of that name
-- in this Lua state, its state gauge every live one. Returns the policy and
-- the names (.sink_a, .sink_b).
local function policy() return H.fresh_policy(SRC, "sink.fgp") end

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
    local P, names = policy()
    local N = 100000
    local list = {}
    for i = 1, N do list[i] = assert(P:breaker(names.sink_a, { clock = H.clock(100).fn })) end
    H.pass(list[1], 3)
    H.fail(list[N], 2) -- opens
    local before = core.stats_visited()
    local text = fluxgate.prometheus()
    assert.are.equal(before, core.stats_visited()) -- O(names): no breaker visited
    assert.are.equal(N - 1, state(text, names.sink_a, "closed"))
    assert.are.equal(1, state(text, names.sink_a, "open"))
    assert.are.equal(3, calls(text, names.sink_a, "success"))
    assert.are.equal(2, calls(text, names.sink_a, "failure"))
    assert.are.equal(1, opened(text, names.sink_a))
    for i = 1, N do list[i]:close() end
  end)

  it("shared breakers are walked, once each (their counters are the shared block's), and stay after their last handle", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local P, names = policy()
    local s1 = assert(P:shared_breaker(names.sink_a, { dir = dir, zone = "sinkz" }))
    H.pass(s1, 4)
    local before = core.stats_visited()
    local base = fluxgate.prometheus()
    assert.are.equal(before + 1, core.stats_visited())
    s1:close()
    local after = fluxgate.prometheus()
    assert.are.equal(before + 1, core.stats_visited())
    -- its calls were never in the per-process sink, and its zone still
    -- holds them (the instance's breaker): counters never decrease
    assert.are.equal(calls(base, names.sink_a, "success"), calls(after, names.sink_a, "success"))
    os.execute("rm -rf " .. dir)
    package.loaded["fluxgate.paths"].forget_zones()
  end)

  run_on_paths("counters never decrease when breakers are closed or collected", function()
    local P, names = policy()
    local list = {}
    for i = 1, 10 do
      list[i] = assert(P:breaker(names.sink_b, { clock = H.clock(100).fn }))
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
      assert.is_true(calls(second, names.sink_b, o) >= calls(first, names.sink_b, o), o)
    end
    assert.are.equal(10, calls(second, names.sink_b, "success"))
    assert.are.equal(1, calls(second, names.sink_b, "rejected"))
    assert.are.equal(1, opened(second, names.sink_b))
    assert.are.equal(5, state(second, names.sink_b, "closed")) -- 6..10
    assert.are.equal(0, state(second, names.sink_b, "open"))
    for i = 6, 10 do list[i]:close() end
    local third = fluxgate.prometheus()
    assert.is_nil(state(third, names.sink_b, "closed")) -- nothing live: no gauge
    assert.are.equal(10, calls(third, names.sink_b, "success"))
    assert.are.equal(1, calls(third, names.sink_b, "failure"))
  end)

  run_on_paths("state counts follow transitions, commands and reloads", function()
    local P, names = policy()
    local c = H.clock(100)
    local a = assert(P:breaker(names.sink_a, { clock = c.fn }))
    local b = assert(P:breaker(names.sink_a, { clock = c.fn }))
    assert.are.equal(2, state(fluxgate.prometheus(), names.sink_a, "closed"))
    H.fail(a, 2)
    b:force_open()
    local t = fluxgate.prometheus()
    assert.are.equal(1, state(t, names.sink_a, "open"))
    assert.are.equal(1, state(t, names.sink_a, "forced_open"))
    c:advance(11)
    H.pass(a, 1) -- half_open -> closed
    b:reset()
    t = fluxgate.prometheus()
    assert.are.equal(2, state(t, names.sink_a, "closed"))
    assert.are.equal(1, calls(t, names.sink_a, "success"))
    -- a reload under another name: the breaker is counted there from now
    -- on; what it counted stays with its old name
    assert.is_nil(calls(t, names.sink_b, "success"))
    assert.is_true(a:reload(P, names.sink_b))
    H.pass(a, 2)
    local r = fluxgate.prometheus()
    assert.are.equal(1, state(r, names.sink_a, "closed"))
    assert.are.equal(1, calls(r, names.sink_a, "success"))
    assert.are.equal(2, calls(r, names.sink_b, "success"))
    assert.are.equal(1, state(r, names.sink_b, "closed"))
    H.fail(a, 1) -- FailureStreak(1): opens under its new name
    r = fluxgate.prometheus()
    assert.are.equal(1, state(r, names.sink_b, "open"))
    a:close()
    b:close()
    r = fluxgate.prometheus()
    assert.is_nil(state(r, names.sink_b, "open")) -- nothing live: no gauge
    assert.are.equal(1, calls(r, names.sink_a, "success"))
  end)
end)
