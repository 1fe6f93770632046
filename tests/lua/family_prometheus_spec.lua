-- Families in fluxgate.prometheus(): aggregated under the family's name by
-- default (counters summed over every key it ever had, keys per state in
-- circuit_breaker_family_state), per-key series only with metrics =
-- "per_key"; counters never decrease when keys are evicted or the family
-- is closed or collected.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local SRC = [[
breaker fam_a { tripper = FailureStreak(1) retry = Cooldown(60s) }
breaker fam_b { tripper = FailureStreak(1) retry = Cooldown(60s) }
breaker fam_c { tripper = FailureStreak(1) retry = Cooldown(60s) }
breaker fam_d { tripper = FailureStreak(1) retry = Cooldown(60s) }
breaker fam_order { tripper = FailureStreak(1) retry = Cooldown(60s) }
]]

-- SRC compiled for one test under names no other test uses
-- (H.fresh_policy): a family's series are its name's, summed over every
-- family of that name in this Lua state. Returns the policy and the names
-- (F.fam_a, ...).
local function policy() return H.fresh_policy(SRC, "family_prometheus_spec") end

-- samples keyed by "name{labels}"
local function samples()
  local s = {}
  for name, labels, value in fluxgate.prometheus():gmatch("\n([%a_]+)(%b{}) (%S+)") do s[name .. labels] = tonumber(value) end
  return s
end

local function fail(fam, key) pcall(fam.call, fam, key, function() error("boom") end) end
local function pass(fam, key) fam:call(key, function() return true end) end

local function calls(name, outcome, key)
  if key then return ('circuit_breaker_calls_total{circuit_name="%s",key="%s",outcome="%s"}'):format(name, key, outcome) end
  return ('circuit_breaker_calls_total{circuit_name="%s",outcome="%s"}'):format(name, outcome)
end

describe("a family in fluxgate.prometheus()", function()
  it("is aggregated under its name: calls summed, keys counted per state, no key label", function()
    local p, F = policy()
    local fam = assert(p:family(F.fam_a))
    for i = 1, 5 do pass(fam, "p" .. i) end
    fail(fam, "p1")
    fail(fam, "p2")
    pass(fam, "p1") -- rejected
    local s = samples()
    assert.are.equal(5, s[calls(F.fam_a, "success")])
    assert.are.equal(2, s[calls(F.fam_a, "failure")])
    assert.are.equal(1, s[calls(F.fam_a, "rejected")])
    assert.are.equal(3, s['circuit_breaker_family_state{circuit_name="' .. F.fam_a .. '",state="closed"}'])
    assert.are.equal(2, s['circuit_breaker_family_state{circuit_name="' .. F.fam_a .. '",state="open"}'])
    assert.are.equal(0, s['circuit_breaker_family_state{circuit_name="' .. F.fam_a .. '",state="half_open"}'])
    assert.are.equal(2, s['circuit_breaker_state_transition_total{circuit_name="' .. F.fam_a .. '",old_state="closed",new_state="open"}'])
    assert.is_nil(s['circuit_breaker_state{circuit_name="' .. F.fam_a .. '",state="closed"}'], "no breaker gauge for a family")
    assert.is_nil(fluxgate.prometheus():find('key="', 1, true))
    fam:close()
  end)

  it("has key-labelled series with metrics = \"per_key\"", function()
    local p, F = policy()
    local fam = assert(p:family(F.fam_b, { metrics = "per_key" }))
    pass(fam, "x")
    fail(fam, 'q"uote')
    local s = samples()
    assert.are.equal(1, s[calls(F.fam_b, "success", "x")])
    assert.are.equal(1, s[calls(F.fam_b, "failure", 'q\\"uote')])
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="' .. F.fam_b .. '",key="x",state="closed"}'])
    assert.are.equal(0, s['circuit_breaker_state{circuit_name="' .. F.fam_b .. '",key="x",state="open"}'])
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="' .. F.fam_b .. '",key="q\\"uote",state="open"}'])
    assert.are.equal(1, s[calls(F.fam_b, "success")])
    fam:close()
  end)

  it("writes a key's bytes that are not UTF-8 as \\xHH text: the exposition stays UTF-8", function()
    local p, F = policy()
    local fam = assert(p:family(F.fam_b, { metrics = "per_key" }))
    local keys = {
      ["\xff\xfe"] = "\\\\xFF\\\\xFE",                -- never UTF-8
      ["caf\xc3\xa9"] = "caf\xc3\xa9",                     -- valid: kept
      ["\xed\xa0\x80"] = "\\\\xED\\\\xA0\\\\x80",     -- a surrogate
      ["\xc0\xaf"] = "\\\\xC0\\\\xAF",                -- overlong '/'
      ["\xf4\x90\x80\x80"] = "\\\\xF4\\\\x90\\\\x80\\\\x80", -- past U+10FFFF
      ["a\xe2\x82"] = "a\\\\xE2\\\\x82",               -- truncated
    }
    for key in pairs(keys) do pass(fam, key) end
    local s = samples()
    for _, shown in pairs(keys) do assert.are.equal(1, s[calls(F.fam_b, "success", shown)], shown) end
    if utf8 then assert.is_not_nil(utf8.len(fluxgate.prometheus()), "the exposition is UTF-8") end
    fam:close()
  end)

  it("never writes two keys alike: a text key that looks like a \\xHH escape has its backslash as \\x5C", function()
    local p, F = policy()
    local fam = assert(p:family(F.fam_b, { metrics = "per_key" }))
    local keys = {
      ["\xff"] = "\\\\xFF",             -- binary: \xFF
      ["\\xFF"] = "\\\\x5CxFF",         -- the text \xFF: was \xFF too, one series twice
      ["\\x5C"] = "\\\\x5Cx5C",
      ["\\xff\xff"] = "\\\\x5Cxff\\\\xFF",
      ["a\\b"] = "a\\\\b",              -- a backslash that starts no \xHH: as before
      ["\\x4"] = "\\\\x4",
    }
    for key in pairs(keys) do pass(fam, key) end
    local s = samples()
    for _, shown in pairs(keys) do assert.are.equal(1, s[calls(F.fam_b, "success", shown)], shown) end
    local seen = {}
    for series in fluxgate.prometheus():gmatch("\n([%a_]+%b{}) ") do
      assert.is_nil(seen[series], "one series twice: " .. series)
      seen[series] = true
    end
    fam:close()
  end)

  it("adds up a key that per_key families of one name share: one series, as breakers of one name", function()
    local p, F = policy()
    local one = assert(p:family(F.fam_a, { metrics = "per_key" }))
    local two = assert(p:family(F.fam_a, { metrics = "per_key" }))
    pass(one, "k")
    pass(two, "k")
    fail(two, "k") -- FailureStreak(1): open in two, closed in one
    pass(two, "only")
    local seen = {}
    for series in fluxgate.prometheus():gmatch("\n([%a_]+%b{}) ") do
      assert.is_nil(seen[series], "one series twice: " .. series)
      seen[series] = true
    end
    local s = samples()
    assert.are.equal(2, s[calls(F.fam_a, "success", "k")])
    assert.are.equal(1, s[calls(F.fam_a, "failure", "k")])
    assert.are.equal(1, s[calls(F.fam_a, "success", "only")])
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="' .. F.fam_a .. '",key="k",state="closed"}'])
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="' .. F.fam_a .. '",key="k",state="open"}'])
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="' .. F.fam_a .. '",key="only",state="closed"}'])
    one:close()
    two:close()
  end)

  it("writes key-labelled series in key order, whatever the order of use and of families", function()
    local p, F = policy()
    local one = assert(p:family(F.fam_order, { metrics = "per_key" }))
    local two = assert(p:family(F.fam_order, { metrics = "per_key" }))
    pass(one, "b")
    pass(one, "a") -- most recently used first in the family: a, b
    pass(two, "c")
    pass(two, "0")
    local order = {}
    for key in fluxgate.prometheus():gmatch('circuit_breaker_calls_total{circuit_name="' .. F.fam_order .. '",key="([^"]*)",outcome="success"}') do
      order[#order + 1] = key
    end
    assert.are.same({ "0", "a", "b", "c" }, order)
    one:close()
    two:close()
  end)

  it("keeps the counts of evicted keys", function()
    local p, F = policy()
    local fam = assert(p:family(F.fam_c, { max_keys = 2 }))
    for i = 1, 10 do pass(fam, i) end
    assert.are.equal(2, fam:size())
    local s = samples()
    assert.are.equal(10, s[calls(F.fam_c, "success")])
    assert.are.equal(2, s['circuit_breaker_family_state{circuit_name="' .. F.fam_c .. '",state="closed"}'])
    fam:close()
  end)

  it("never decreases when a family is closed or collected", function()
    local p, F = policy()
    local fam = assert(p:family(F.fam_d))
    for i = 1, 4 do pass(fam, i) end
    fail(fam, 1)
    local fam2 = assert(p:family(F.fam_d))
    pass(fam2, "z")
    assert.are.equal(5, samples()[calls(F.fam_d, "success")])
    fam:close()
    assert.are.equal(5, samples()[calls(F.fam_d, "success")])
    assert.are.equal(1, samples()[calls(F.fam_d, "failure")])
    assert.are.equal(1, samples()['circuit_breaker_family_state{circuit_name="' .. F.fam_d .. '",state="closed"}'],
                     "only open families count keys")
    fam2 = nil
    collectgarbage()
    collectgarbage()
    local s = samples()
    assert.are.equal(5, s[calls(F.fam_d, "success")])
    assert.are.equal(1, s['circuit_breaker_state_transition_total{circuit_name="' .. F.fam_d .. '",old_state="closed",new_state="open"}'])
    assert.is_nil(s['circuit_breaker_family_state{circuit_name="' .. F.fam_d .. '",state="closed"}'])
  end)
end)

-- prometheus() reads every family in a weak table, where a family stays
-- after its last reference is gone until its finalizer (close) has run; a
-- collection step taken while the scrape builds that family's tables ran
-- the finalizer under its feet: the engine family freed in the middle of
-- family_stats (LuaJIT: a segfault on every run of the loop below). Run in
-- a child interpreter, so that a crash fails this test instead of busted.
describe("prometheus() and families waiting for their finalizer", function()
  it("counts each dropped family exactly once and never crashes", function()
    local out = H.run_child([[
      local fluxgate = require("fluxgate")
      local p = assert(fluxgate.compile("breaker dropped { tripper = FailureStreak(1) }"))
      for _, metrics in ipairs({ "aggregate", "per_key" }) do
        for i = 1, 1500 do
          local fam = assert(p:family("dropped", { metrics = metrics }))
          for k = 1, 3 do fam:call(k, function() return 1 end) end
          fam = nil
          local n = fluxgate.prometheus():match('circuit_breaker_calls_total{circuit_name="dropped",outcome="success"} (%d+)')
          local want = (metrics == "aggregate" and 0 or 4500) + 3 * i
          if tonumber(n) ~= want then print("scrape " .. i .. " of " .. metrics .. ": " .. tostring(n) .. ", not " .. want) end
        end
      end
      print("done")
    ]])
    assert.are.equal("done\nexit 0\n", out)
  end)
end)
