-- Half-open slots are leases: a lost token (an aborted request, a killed
-- coroutine) is taken back after half_open_lease, so it cannot wedge the
-- breaker. SPEC.md §5.
local H = dofile("tests/lua/helper.lua")

for _, use_ffi in ipairs(H.paths()) do
  describe("half-open leases (" .. H.path_name(use_ffi) .. ")", function()
    local function new(spec) local cb; H.with_path(use_ffi, function() cb = H.new(spec) end); return cb end

    it("a lost token frees its slot after the default 60 s lease", function()
      local clk = H.clock()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Always()", permit = "All()",
                       max_half_open_calls = 1, clock = clk.fn })
      H.fail(cb, 1)
      assert(cb:acquire()) -- lost
      clk:advance(59.9)
      assert.is_not_nil(H.rejection(cb))
      clk:advance(0.2)
      assert.is_nil(H.rejection(cb), "the slot came back")
      assert.are.equal("closed", cb:state())
    end)

    it("a probe killed inside a coroutine does not wedge the breaker", function()
      local clk = H.clock()
      local cb = new({ tripper = "FailureStreak(1)", retry = "Always()", permit = "All()",
                       max_half_open_calls = 1, half_open_lease = 5, clock = clk.fn })
      H.fail(cb, 1)
      local co = coroutine.create(function() return cb:call(function() coroutine.yield() end) end)
      assert(coroutine.resume(co)) -- suspended forever inside the protected call
      assert.is_not_nil(H.rejection(cb))
      clk:advance(5)
      assert.is_nil(H.rejection(cb))
    end)

    it("releasing an expired lease late is harmless", function()
      local clk = H.clock()
      -- HalfOpened() keeps the breaker half open after successful probes.
      local cb = new({ tripper = "HalfOpened() | FailureStreak(1)", retry = "Always()", permit = "All()",
                       max_half_open_calls = 1, half_open_lease = 5, clock = clk.fn })
      H.fail(cb, 1)
      local late = assert(cb:acquire())
      clk:advance(6)
      local fresh = assert(cb:acquire(), "the expired slot is taken by a new probe")
      cb:release(late, true)
      local _, r = cb:acquire()
      assert.is_not_nil(r, "the late release did not free the new probe's slot")
      cb:release(fresh, true)
    end)
  end)
end
