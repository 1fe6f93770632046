-- Every option of fluxgate.breaker's spec and policy:breaker's opts, and the
-- line between misuse (raises) and invalid values (nil, err). SPEC.md §7.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

describe("spec fields", function()
  it("window, tracker, tripper, retry and permit are expressions", function()
    local clk = H.clock()
    local cb = H.new({ window = "CountWindow(2)", tracker = 'TypeOf("x")', tripper = "FailureStreak(2)",
                       retry = "Cooldown(5)", permit = "All()", clock = clk.fn })
    H.fail(cb, 2, { type = "y" })
    assert.are.equal("closed", cb:state())
    H.fail(cb, 2, { type = "x" })
    assert.are.equal("open", cb:state())
    clk:advance(5)
    H.pass(cb, 1)
    assert.are.equal("closed", cb:state())
  end)

  it("max_half_open_calls bounds admitted probes", function()
    local clk = H.clock()
    local cb = H.new({ tripper = "FailureStreak(1)", retry = "Always()", permit = "All()",
                       max_half_open_calls = 1, clock = clk.fn })
    H.fail(cb, 1)
    local token = assert(cb:acquire())
    local none, r = cb:acquire()
    assert.is_nil(none)
    assert.is_true(fluxgate.is_rejection(r))
    assert.are.equal("half_open", r.state)
    cb:release(token, true)
    assert.are.equal("closed", cb:state())
  end)

  it("a fractional max_half_open_calls is an invalid value named by its field", function()
    local cb, err = fluxgate.breaker("t", { max_half_open_calls = 1.5 })
    assert.is_nil(cb)
    assert.matches("max_half_open_calls", err, 1, true)
  end)

  it("max_half_open_calls = 0 names the field with a position", function()
    local cb, err = fluxgate.breaker("t", { max_half_open_calls = 0 })
    assert.is_nil(cb)
    assert.matches("^max_half_open_calls:1:%d+: error:", err)
  end)

  it("half_open_lease takes seconds", function()
    local clk = H.clock()
    local cb = H.new({ tripper = "FailureStreak(1)", retry = "Always()", permit = "All()",
                       max_half_open_calls = 1, half_open_lease = 30, clock = clk.fn })
    H.fail(cb, 1)
    assert(cb:acquire()) -- a probe whose token is lost
    clk:advance(29)
    assert.is_not_nil(H.rejection(cb), "the slot is still leased")
    clk:advance(2)
    assert.is_nil(H.rejection(cb), "the lease expired and the slot was taken back")
  end)

  it("a non-positive half_open_lease is an invalid value", function()
    local cb, err = fluxgate.breaker("t", { half_open_lease = -1 })
    assert.is_nil(cb)
    assert.matches("half_open_lease", err, 1, true)
  end)

  it("an expression error names its field as the chunk", function()
    local cb, err = fluxgate.breaker("t", { retry = "Cooldown(0)" })
    assert.is_nil(cb)
    assert.matches("^retry:1:%d+: error:", err)
  end)
end)

describe("options", function()
  it("clock: the breaker's time, also for timestamps and changed_at", function()
    local clk = H.clock(42)
    local cb = H.new({ tripper = "FailureStreak(1)", clock = clk.fn })
    H.fail(cb, 1)
    assert.are.equal(42, cb:info().changed_at)
    clk:advance(8)
    cb:reset()
    assert.are.equal(50, cb:info().changed_at)
  end)

  it("random: the draws of Random() permits come from it", function()
    local cb = H.new({ tripper = "FailureStreak(1)", retry = "Always()", permit = "Random(0.5)",
                       random = H.scripted({ 0.9, 0.9, 0.1 }) })
    H.fail(cb, 1)
    assert.is_not_nil(H.rejection(cb))
    assert.is_not_nil(H.rejection(cb))
    assert.is_nil(H.rejection(cb))
  end)

  it("seed: two breakers with one seed draw alike", function()
    local function admissions(seed)
      local drawn, state = H.seeded_admissions(seed)
      assert.are.equal("half_open", state)
      return drawn
    end
    assert.are.equal(admissions(7), admissions(7))
    assert.are_not.equal(admissions(7), admissions(8))
  end)

  it("custom: a predicate per Custom() name, before registered ones", function()
    fluxgate.register("opt_first", function() return false end)
    local cb = H.new({ tracker = 'Custom("opt_first")', tripper = "FailureStreak(1)",
                       custom = { opt_first = function() return true end } })
    H.fail(cb, 1)
    assert.are.equal("open", cb:state())
  end)

  it("listeners: every one hears every transition, in order", function()
    local log = {}
    local cb = H.new({ tripper = "FailureStreak(1)",
                       listeners = { function(s) log[#log + 1] = "a:" .. s.new_state end,
                                     function(s) log[#log + 1] = "b:" .. s.new_state end } })
    H.fail(cb, 1)
    cb:disable()
    assert.are.same({ "a:open", "b:open", "a:disabled", "b:disabled" }, log)
  end)

  it("policy:breaker takes the same options", function()
    local p = assert(fluxgate.compile("breaker x { tripper = FailureStreak(1) retry = Cooldown(10) }", "o.fgp"))
    local clk = H.clock()
    local seen
    local cb = assert(p:breaker("x", { clock = clk.fn, listeners = { function(s) seen = s end } }))
    H.fail(cb, 1)
    assert.are.equal("open", seen.new_state)
    assert.are.equal(1000, seen.timestamp)
    assert.are.equal("x", cb.name)
  end)
end)

describe("misuse raises", function()
  local cases = {
    { "a number name", function() fluxgate.breaker(1) end },
    { "a string spec", function() fluxgate.breaker("t", "FailureStreak(1)") end },
    { "a table expression", function() fluxgate.breaker("t", { window = {} }) end },
    { "a string seed", function() fluxgate.breaker("t", { seed = "1" }) end },
    { "a fractional seed", function() fluxgate.breaker("t", { seed = 1.5 }) end },
    { "a number random", function() fluxgate.breaker("t", { random = 0.5 }) end },
    { "a listener that is not a function", function() fluxgate.breaker("t", { listeners = { 1 } }) end },
    { "listeners not in a table", function() fluxgate.breaker("t", { listeners = print }) end },
    { "custom not a table", function() fluxgate.breaker("t", { custom = print }) end },
    { "a custom predicate that is not a function", function() fluxgate.breaker("t", { custom = { x = 1 } }) end },
    { "a boolean half_open_lease", function() fluxgate.breaker("t", { half_open_lease = true }) end },
    { "an unknown spec field", function() fluxgate.breaker("t", { triper = "FailureStreak(1)" }) end },
    { "a spec-only field in opts", function()
        local p = assert(fluxgate.compile("breaker x {}"))
        p:breaker("x", { tripper = "FailureStreak(1)" })
      end },
    { "a number chunk name", function() fluxgate.compile("breaker x {}", 5) end },
    { "load(nil)", function() fluxgate.load() end },
    { "register without a function", function() fluxgate.register("x", "y") end },
    { "on_transition(nil)", function() H.new():on_transition() end },
    { "call_with_fallback without a fallback", function() H.new():call_with_fallback(print) end },
    { "wrap(nil)", function() H.new():wrap() end },
    { "release without a token", function() H.new():release(nil, true) end },
    { "release with another breaker's token", function()
        local a, b = H.new(), H.new()
        b:release(a:acquire(), true)
      end },
    { "a string duration", function() local cb = H.new(); cb:release(cb:acquire(), true, nil, "1") end },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      assert.has_error(case[2])
    end)
  end

  it("the message blames the caller's line", function()
    local ok, err = pcall(function() fluxgate.breaker("t", { clock = 5 }) end)
    assert.is_false(ok)
    assert.matches("options_spec.lua:%d+:", err)
    assert.matches("clock", err, 1, true)
  end)
end)

describe("invalid values give nil, err", function()
  it("an unknown breaker name", function()
    local p = assert(fluxgate.compile("breaker x {}", "n.fgp"))
    local cb, err = p:breaker("y")
    assert.is_nil(cb)
    assert.matches("'y'", err, 1, true)
  end)

  it("an unreadable file names the path", function()
    local p, err = fluxgate.load("/nonexistent/policy.fgp")
    assert.is_nil(p)
    assert.matches("/nonexistent/policy.fgp", err, 1, true)
  end)

  it("an unresolved Custom() name is named", function()
    local p = assert(fluxgate.compile('breaker x { tracker = Custom("missing_everywhere") }', "c.fgp"))
    local cb, err = p:breaker("x")
    assert.is_nil(cb)
    assert.matches("missing_everywhere", err, 1, true)
  end)

  it("compile accepts any Custom() name; registering it later makes breakers work", function()
    local p = assert(fluxgate.compile('breaker x { tracker = Custom("late_one") tripper = FailureStreak(1) }'))
    assert.is_nil((p:breaker("x")))
    fluxgate.register("late_one", function(o) return o.ok == false end)
    local cb = assert(p:breaker("x"))
    H.fail(cb, 1)
    assert.are.equal("open", cb:state())
  end)
end)
