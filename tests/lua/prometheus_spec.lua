-- fluxgate.prometheus(): text exposition format 0.0.4 of every live breaker.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

-- Parses the exposition strictly; fails on any line that is neither a
-- comment nor a sample. Returns samples keyed by "name{labels}".
local function parse(text)
  assert.are.equal("\n", text:sub(-1), "the text ends with a newline")
  local samples, typed = {}, {}
  for line in text:gmatch("([^\n]*)\n") do
    if line:sub(1, 1) == "#" then
      local kind, name, rest = line:match("^# (%u+) ([%a_:][%w_:]*) (.+)$")
      assert(kind == "HELP" or kind == "TYPE", "a comment line: " .. line)
      if kind == "TYPE" then
        assert(rest == "gauge" or rest == "counter", "a metric type: " .. line)
        typed[name] = rest
      end
    else
      local name, labels, value = line:match("^([%a_:][%w_:]*)(%b{}) (%S+)$")
      assert(name, "a sample line: " .. line)
      assert(typed[name], "TYPE comes before the samples of " .. name)
      assert(tonumber(value), "a numeric value: " .. line)
      -- name="value" pairs, comma-separated; values escape only \\ \" \n
      local inner, pos = labels:sub(2, -2), 1
      while pos <= #inner do
        local after_name = inner:match('^[%a_][%w_]*="()', pos)
        assert(after_name, "a label name at " .. pos .. ": " .. line)
        pos = after_name
        while inner:sub(pos, pos) ~= '"' do
          assert(pos <= #inner, "an unterminated label value: " .. line)
          if inner:sub(pos, pos) == "\\" then
            assert(inner:sub(pos + 1, pos + 1):match('[\\"n]'), "a valid escape: " .. line)
            pos = pos + 2
          else
            assert(inner:sub(pos, pos) ~= "\n", "no raw newline")
            pos = pos + 1
          end
        end
        pos = pos + 1
        if pos <= #inner then
          assert.are.equal(",", inner:sub(pos, pos), "labels are comma-separated: " .. line)
          pos = pos + 1
        end
      end
      samples[name .. labels] = tonumber(value)
    end
  end
  return samples
end

describe("fluxgate.prometheus()", function()
  it("every line is a comment or a sample", function()
    local cb = H.new({ tripper = "FailureStreak(1)" }, "prom_lines")
    H.fail(cb, 1)
    H.rejection(cb)
    local s = parse(fluxgate.prometheus())
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="prom_lines",state="open"}'])
    for _, st in ipairs({ "closed", "half_open", "metrics_only", "disabled", "forced_open" }) do
      assert.are.equal(0, s['circuit_breaker_state{circuit_name="prom_lines",state="' .. st .. '"}'])
    end
    assert.are.equal(1, s['circuit_breaker_calls_total{circuit_name="prom_lines",outcome="failure"}'])
    assert.are.equal(0, s['circuit_breaker_calls_total{circuit_name="prom_lines",outcome="success"}'])
    assert.are.equal(1, s['circuit_breaker_calls_total{circuit_name="prom_lines",outcome="rejected"}'])
    assert.are.equal(1, s['circuit_breaker_state_transition_total{circuit_name="prom_lines",old_state="closed",new_state="open"}'])
  end)

  it("counts successes and ignored errors; calls in disabled are not counted", function()
    local cb = H.new({ tracker = 'TypeOf("x")' }, "prom_calls")
    H.pass(cb, 3)
    H.fail(cb, 2, { type = "other" })
    cb:disable()
    H.pass(cb, 5)
    local s = parse(fluxgate.prometheus())
    assert.are.equal(3, s['circuit_breaker_calls_total{circuit_name="prom_calls",outcome="success"}'])
    assert.are.equal(2, s['circuit_breaker_calls_total{circuit_name="prom_calls",outcome="ignored"}'])
  end)

  it("breakers sharing a name add up, and the gauge counts them per state", function()
    local a = H.new({ tripper = "FailureStreak(1)" }, "prom_shared")
    local b = H.new({ tripper = "FailureStreak(1)" }, "prom_shared")
    local c = H.new({ tripper = "FailureStreak(1)" }, "prom_shared")
    H.fail(a, 1); H.fail(b, 1); H.pass(c, 1)
    local s = parse(fluxgate.prometheus())
    assert.are.equal(2, s['circuit_breaker_state{circuit_name="prom_shared",state="open"}'])
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="prom_shared",state="closed"}'])
    assert.are.equal(2, s['circuit_breaker_calls_total{circuit_name="prom_shared",outcome="failure"}'])
    assert.are.equal(2, s['circuit_breaker_state_transition_total{circuit_name="prom_shared",old_state="closed",new_state="open"}'])
  end)

  it("escapes label values", function()
    local cb = H.new({}, 'we"ird\\na\nme')
    local text = fluxgate.prometheus()
    local s = parse(text)
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="we\\"ird\\\\na\\nme",state="closed"}'])
    assert(cb)
  end)

  -- A family key's bytes are rewritten (\xHH, \x5C) to keep the text
  -- UTF-8 and keys distinct; a breaker name is UTF-8 already and must stay
  -- the name dashboards know: `C:\x41` was written `C:\x5Cx41`.
  it("writes a breaker name that looks like a \\xHH escape as it is", function()
    local cb = H.new({}, "C:\\x41")
    cb:call(function() return true end)
    local s = parse(fluxgate.prometheus())
    assert.are.equal(1, s['circuit_breaker_state{circuit_name="C:\\\\x41",state="closed"}'])
    assert.are.equal(1, s['circuit_breaker_calls_total{circuit_name="C:\\\\x41",outcome="success"}'])
    assert(cb)
  end)

  it("collected breakers and policies leave the exposition", function()
    do
      local p = assert(fluxgate.compile("breaker prom_gc_a {}\nbreaker prom_gc_b {}", "gc.fgp"))
      for _ = 1, 50 do assert(p:breaker("prom_gc_a")); assert(p:breaker("prom_gc_b")) end
      assert(fluxgate.breaker("prom_gc_c"))
    end
    collectgarbage(); collectgarbage()
    local text = fluxgate.prometheus()
    assert.is_nil(text:find("prom_gc_", 1, true))
  end)

  if _VERSION == "Lua 5.4" then
    it("a closed breaker (<close>) leaves the exposition at once", function()
      local chunk = assert(load([[
        local fluxgate = ...
        do local cb <close> = assert(fluxgate.breaker("prom_closed")) end
        return fluxgate.prometheus()
      ]]))
      assert.is_nil(chunk(fluxgate):find("prom_closed", 1, true))
    end)
  end
end)
