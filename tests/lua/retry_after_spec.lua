-- rejection.retry_after: seconds until an open breaker's retry admits a probe
-- (exact: the jitter is drawn when the breaker opens), 0 in half_open, nil
-- for Never() and in forced_open. SPEC.md §7.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

for _, use_ffi in ipairs(H.paths()) do
  describe("retry_after (" .. H.path_name(use_ffi) .. ")", function()
    local function new(spec) local cb; H.with_path(use_ffi, function() cb = H.new(spec) end); return cb end

    it("counts down a Cooldown", function()
      local clk = H.clock()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(60)", clock = clk.fn })
      H.fail(cb, 1)
      local r = H.rejection(cb)
      assert.are.equal("CallNotPermitted", r.type)
      assert.are.equal("open", r.state)
      assert.are.equal(60, r.retry_after)
      clk:advance(45)
      assert.are.equal(15, H.rejection(cb).retry_after)
    end)

    it("follows a Backoff through reopens", function()
      local clk = H.clock()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Backoff(10, 3, 100)", permit = "All()",
                       clock = clk.fn })
      H.fail(cb, 1)
      assert.are.equal(10, H.rejection(cb).retry_after)
      clk:advance(10)
      H.fail(cb, 1) -- the probe fails: reopened once
      assert.are.equal(30, H.rejection(cb).retry_after)
      clk:advance(30)
      H.fail(cb, 1)
      assert.are.equal(90, H.rejection(cb).retry_after)
      clk:advance(90)
      H.fail(cb, 1)
      assert.are.equal(100, H.rejection(cb).retry_after, "capped at max_duration")
    end)

    it("includes the jitter drawn when the breaker opened", function()
      local clk = H.clock()
      -- factor = 1 + (2u - 1) * j = 1 + 0.5 * 0.2 = 1.1 with u = 0.75
      local cb = H.new({ tripper = "FailureStreak(1)", retry = "Cooldown(100, jitter_ratio=0.2)", permit = "All()",
                         clock = clk.fn, random = H.scripted({ 0.75 }) })
      H.fail(cb, 1)
      assert.is_true(math.abs(H.rejection(cb).retry_after - 110) < 1e-9)
      clk:advance(109.9)
      assert.is_true(math.abs(H.rejection(cb).retry_after - 0.1) < 1e-6)
      clk:advance(0.2)
      assert.is_nil(H.rejection(cb))
    end)

    it("ends the wait when now - changed_at reaches it, as fluxgate computes elapsed", function()
      -- opened at 0.5 with Cooldown(100ms): at 0.6, 0.6 - 0.5 is 0.09999999999999998,
      -- short of 0.1 (though 0.5 + 0.1 == 0.6): fluxgate still rejects there
      local clk = H.clock(0.5)
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(100ms)", permit = "All()",
                       clock = clk.fn })
      H.fail(cb, 1)
      clk.now = 0.6
      local r = H.rejection(cb)
      assert.is_not_nil(r, "admitted at 0.6")
      assert.is_true(r.retry_after > 0 and r.retry_after < 1e-15)
      clk.now = 0.6 + r.retry_after
      assert.is_nil(H.rejection(cb))
      assert.are.equal("closed", cb:state())
    end)

    it("is nil for Never()", function()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Never()" })
      H.fail(cb, 1)
      local r = H.rejection(cb)
      assert.are.equal("open", r.state)
      assert.is_nil(r.retry_after)
    end)

    it("is nil in forced_open", function()
      local cb = new({ retry = "Cooldown(5)" })
      cb:force_open()
      local r = H.rejection(cb)
      assert.are.equal("forced_open", r.state)
      assert.is_nil(r.retry_after)
    end)

    it("is 0 in half_open", function()
      local clk = H.clock()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Cooldown(1)", permit = "All()",
                       max_half_open_calls = 1, clock = clk.fn })
      H.fail(cb, 1)
      clk:advance(1)
      local token = assert(cb:acquire())
      local _, r = cb:acquire()
      assert.are.equal("half_open", r.state)
      assert.are.equal(0, r.retry_after)
      cb:release(token, true)
    end)

    it("prints and concatenates like a message", function()
      local cb = new({ tripper = "FailureStreak(1)" })
      H.fail(cb, 1)
      local r = H.rejection(cb)
      assert.are.equal("circuit breaker 't' is open", tostring(r))
      assert.are.equal("circuit breaker 't' is open!", r .. "!")
      assert.are.equal("circuit breaker 't' is open", r.message)
    end)
  end)
end
