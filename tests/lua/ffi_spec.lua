-- The LuaJIT FFI hot path: which breakers take it, and that its declarations
-- are the public header's FG_FFI_BEGIN..FG_FFI_END region.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local is_luajit = type(rawget(_G, "jit")) == "table"

describe("the FFI hot path", function()
  if not is_luajit then
    it("is not used on " .. _VERSION, function()
      assert.is_false(H.engine_paths.has_ffi)
      assert.is_false(H.on_ffi(H.new()))
    end)
    return
  end

  it("is available under LuaJIT", function()
    assert.is_true(H.engine_paths.has_ffi)
  end)

  it("is taken by breakers without Lua random or Custom() callbacks", function()
    assert.is_true(H.on_ffi(H.new()))
    assert.is_true(H.on_ffi(H.new({ clock = os.time, listeners = { print } })))
  end)

  it("is not taken with a Lua random function or Custom() predicates", function()
    assert.is_false(H.on_ffi(H.new({ random = math.random })))
    assert.is_false(H.on_ffi(H.new({ tracker = 'Custom("c")', custom = { c = function() return true end } })))
  end)

  it("a registered predicate the policy does not use keeps the FFI path", function()
    fluxgate.register("unused_here", function() return true end)
    assert.is_true(H.on_ffi(H.new()))
  end)

  it("declares exactly the header's FFI region", function()
    local f = assert(io.open("include/fluxgate.h"))
    local header = f:read("*a")
    f:close()
    local region = header:match("(/%* FG_FFI_BEGIN %*/.-/%* FG_FFI_END %*/)")
    assert(region, "the markers are in the header")
    -- the build leaves out the FG_API export marks (ffi.cdef does not know them), nothing else
    local marks
    region, marks = ("\n" .. region):gsub("\nFG_API ", "\n")
    assert.is_true(marks > 0)
    region = region:sub(2)
    local cdef = require("fluxgate.cdef")
    assert.is_truthy(cdef:find(region, 1, true))
    assert.is_nil(cdef:find("FG_API", 1, true))
  end)

  it("reads the breaker's head where the C side writes it", function()
    local ffi = require("ffi")
    local cb = H.new()
    local p = ffi.cast("fgl_head *", cb)
    assert.is_true(p.engine ~= nil)
    assert.is_true(p.serial > 0)
    cb:close()
    assert.is_true(p.engine == nil)
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
