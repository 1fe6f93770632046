-- The LuaJIT FFI hot path: which breakers take it, and that its declarations
-- are the public header's FG_FFI_BEGIN..FG_FFI_END region.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local is_luajit = type(rawget(_G, "jit")) == "table"

describe("the FFI hot path", function()
  if not is_luajit then
    it("is not used on " .. _VERSION, function()
      assert.is_false(fluxgate._ffi)
      assert.is_nil(H.new()._q)
    end)
    return
  end

  it("is available under LuaJIT", function()
    assert.is_true(fluxgate._ffi)
  end)

  it("is taken by breakers without Lua random or Custom() callbacks", function()
    assert.is_not_nil(H.new()._q)
    assert.is_not_nil(H.new({ clock = os.time, listeners = { print } })._q)
  end)

  it("is not taken with a Lua random function or Custom() predicates", function()
    assert.is_nil(H.new({ random = math.random })._q)
    assert.is_nil(H.new({ tracker = 'Custom("c")', custom = { c = function() return true end } })._q)
  end)

  it("a registered predicate the policy does not use keeps the FFI path", function()
    fluxgate.register("unused_here", function() return true end)
    assert.is_not_nil(H.new()._q)
  end)

  it("declares exactly the header's FFI region", function()
    local f = assert(io.open("include/fluxgate.h"))
    local header = f:read("*a")
    f:close()
    local region = header:match("(/%* FG_FFI_BEGIN %*/.-/%* FG_FFI_END %*/)")
    assert(region, "the markers are in the header")
    local cdef = require("fluxgate.cdef")
    assert.is_truthy(cdef:find(region, 1, true))
  end)

  it("the queue shared with C declares the same capacity", function()
    local ffi = require("ffi")
    local q = ffi.new("fgl_shared")
    assert.are.equal(require("fluxgate.core").QUEUE_CAP * ffi.sizeof("fgl_event"), ffi.sizeof(q.events))
  end)

  it("gives the same answers as the classic path on a scripted scenario", function()
    local function run(use_ffi)
      local log = {}
      H.with_path(use_ffi, function()
        local clk = H.clock()
        local cb = H.new({ tripper = "FailureStreak(2)", retry = "Cooldown(10)", permit = "All()", clock = clk.fn,
                           listeners = { function(s) log[#log + 1] = s.old_state .. ">" .. s.new_state .. "@" .. s.timestamp end } })
        for i = 1, 30 do
          clk:advance(1)
          if i % 7 < 3 then H.fail(cb, 1) else H.pass(cb, 1) end
          log[#log + 1] = cb:state()
        end
        local m = cb:info().metrics
        log[#log + 1] = m.total_count .. "/" .. m.failure_count
      end)
      return table.concat(log, " ")
    end
    assert.are.equal(run(false), run(true))
  end)
end)
