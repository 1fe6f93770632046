-- policy:shared_family: keyed shared breakers, one table of slots in a
-- shared map. Cross-process behaviour (fork: one block per key whoever
-- makes it; SIGKILL holding the family lock) is in
-- tests/test_shared_family.c and the real nginx (tests/nginx); here, within
-- one process: keys, handles, the full table, reload, metrics.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local SRC = [[
breaker api { tripper = FailureStreak(3) retry = Cooldown(60s) }
breaker other { tripper = FailureStreak(3) }
]]

local function fail() return nil, "boom" end
local function ok() return true end

local calls = H.calls

local function family_state(text, name, state)
  return tonumber(text:match('circuit_breaker_family_state{circuit_name="' .. name .. '",state="' .. state .. '"} (%d+)'))
end

describe("policy:shared_family", function()
  local z = H.shared_zones("f", { capacity = 8 })
  before_each(z.setup)
  after_each(z.teardown)
  local zone = z.zone

  it("gives one shared breaker per key, the same handle each time, with its key", function()
    local p = assert(fluxgate.compile(SRC))
    local fam = assert(p:shared_family("api", zone()))
    local a = assert(fam:get("a"))
    assert.are.equal(a, fam:get("a"))
    assert.are.equal("a", a.key)
    assert.are.equal("api", a.name)
    assert.are.equal("api", fam.name)
    assert.are.equal(fam:get(42), fam:get("42"))
    assert.are.equal("42", fam:get(42).key)
    for _ = 1, 3 do a:call(fail) end
    assert.are.equal("open", a:state())
    assert.are.equal("closed", fam:get("b"):state())
    assert.is_nil((fam:call("a", ok)))
    assert.is_true((fam:call("b", ok)))
    assert.are.equal(3, fam:size())
    local keys, states = fam:keys()
    table.sort(keys)
    assert.are.same({ "42", "a", "b" }, keys)
    assert.are.equal("open", states.a)
    assert.are.equal("closed", states.b)
    local ok_reload, why = a:reload(p)
    assert.is_nil(ok_reload)
    assert.truthy(why:find("cannot be reloaded alone", 1, true))
    assert.are.equal("open", a:state())
    assert.has_error(function() fam:get({}) end)
    assert.has_error(function() fam:get(1.5) end)
    assert.has_error(function() fam:get(2^53 + 2) end)
    -- every integer key policy:family takes: 2^53, and Lua 5.4's integers
    assert.are.equal("9007199254740992", assert(fam:get(2^53)).key)
    if math.type then
      assert.are.equal("9223372036854775807", assert(fam:get(math.maxinteger)).key)
      assert.are.equal(fam:get(math.maxinteger), fam:get("9223372036854775807"))
    end
  end)

  it("makes a new handle for a key whose breaker was closed, with the key's shared state", function()
    local p = assert(fluxgate.compile(SRC))
    local fam = assert(p:shared_family("api", zone()))
    local a = assert(fam:get("a"))
    for _ = 1, 3 do a:call(fail) end
    a:close()
    a:close()
    assert.has_error(function() a:state() end, "fluxgate: breaker 'api' is closed")
    assert.are.equal("open", fam:state("a"), "not wedged: a new handle on the same block")
    local again = assert(fam:get("a"))
    assert.are_not.equal(a, again)
    assert.are.equal("a", again.key)
    assert.is_nil((fam:call("a", ok)))
    -- an integer key is cached under both spellings: both are forgotten
    local n = assert(fam:get(42))
    n:close()
    assert.are.equal("closed", fam:get(42):state())
    assert.are.equal(fam:get(42), fam:get("42"))
    -- closing an old handle after the key has a new one leaves the new one
    a:close()
    assert.are.equal(again, fam:get("a"))
    assert.are.equal(2, fam:size())
    -- Lua 5.4's <close> variables close the same way
    if not jit then
      local scoped = assert(load("local fam = ...; do local k <close> = fam:get('c'); k:call(function() end) end; "
                                 .. "return fam:get('c'):state()"))
      assert.are.equal("closed", scoped(fam))
    end
  end)

  it("shares every key's state with another family object on the table (another worker, a reload)", function()
    local p = assert(fluxgate.compile(SRC))
    local one = assert(p:shared_family("api", zone()))
    local notices = {}
    local two = assert(assert(fluxgate.compile(SRC)):shared_family("api", zone({
      notice = function(m) notices[#notices + 1] = m end })))
    assert.are_not.equal(one:get("x"), two:get("x"))
    one:call("x", fail)
    two:call("x", fail)
    one:call("x", fail)
    -- the threshold's 3 failures through two handles opened the one block
    assert.are.equal("open", two:get("x"):state())
    assert.are.equal("closed", two:get("y"):state())
    -- a key made through one is known to the other
    assert.are.equal(2, one:size())
    assert.are.equal(0, #notices)
  end)

  it("says clearly when the table is full, and keeps its keys working", function()
    local p = assert(fluxgate.compile(SRC))
    local fam = assert(p:shared_family("api", zone({ capacity = 2 })))
    assert(fam:get("a"))
    assert(fam:get("b"))
    local cb, err = fam:get("c")
    assert.is_nil(cb)
    assert.are.equal("shared family 'api' is full: capacity 2; give a larger capacity "
      .. "(a reload applies it, starting a fresh table)", err)
    local r, e = fam:call("c", ok)
    assert.is_nil(r)
    assert.are.equal(err, e)
    assert.are.equal("fallback: " .. err, fam:call_with_fallback("c", ok, function(x) return "fallback: " .. x end))
    assert.is_true((fam:call("a", ok)))
    cb, err = fam:get(string.rep("k", 129))
    assert.is_nil(cb)
    assert.truthy(err:find("at most 128 bytes", 1, true), err)
  end)

  it("refuses a missing or bad capacity, zone options as shared_breaker does, an unknown name", function()
    local p = assert(fluxgate.compile(SRC))
    assert.has_error(function() p:shared_family("api", { dir = z.dir }) end)
    assert.has_error(function() p:shared_family("api", zone({ capacity = 0 })) end)
    assert.has_error(function() p:shared_family("api", zone({ capacity = 2.5 })) end)
    assert.has_error(function() p:shared_family("api", zone({ zone = "../x" })) end)
    assert.has_error(function() p:shared_family("api", zone({ clock = function() return 0 end })) end)
    assert.has_error(function() p:shared_family("api", zone({ max_keys = 3 })) end)
    local fam, err = p:shared_family("nope", zone())
    assert.is_nil(fam)
    assert.truthy(err:find("no breaker named 'nope'", 1, true))
    local big = p:shared_family("api", zone({ capacity = 100000, size = "64k" }))
    assert.is_nil(big)
  end)

  it("takes and gives back admissions by key", function()
    local p = assert(fluxgate.compile(SRC))
    local fam = assert(p:shared_family("api", zone()))
    for _ = 1, 3 do
      local token = assert(fam:acquire("h"))
      fam:release(token, false, "boom")
    end
    local token, rejection = fam:acquire("h")
    assert.is_nil(token)
    assert.are.equal("open", rejection.state)
    assert.has_error(function() fam:release({}, true) end)
    local t2 = assert(fam:acquire("other-host"))
    fam:release(t2, true)
    assert.has_error(function() fam:release(t2, true) end)
    assert.are.equal("closed", fam:state("other-host"))
    fam:force_open("other-host")
    assert.are.equal("forced_open", fam:state("other-host"))
  end)

  it("tells its listeners which key changed, also for keys made before on_transition", function()
    local p = assert(fluxgate.compile(SRC))
    local heard = {}
    local fam = assert(p:shared_family("api", zone({
      listeners = { function(t) heard[#heard + 1] = t.key .. ":" .. t.new_state end } })))
    for _ = 1, 3 do fam:call("a", fail) end
    local later = {}
    fam:on_transition(function(t) later[#later + 1] = t.key .. ":" .. t.new_state end)
    fam:force_open("a")
    for _ = 1, 3 do fam:call("b", fail) end
    assert.are.same({ "a:open", "a:forced_open", "b:open" }, heard)
    assert.are.same({ "a:forced_open", "b:open" }, later)
  end)

  it("exports the whole table under its name once: counters summed over keys, keys per state", function()
    local p = assert(fluxgate.compile(SRC))
    local fam = assert(p:shared_family("api", zone()))
    local same = assert(p:shared_family("api", zone()))
    for _ = 1, 3 do fam:call("a", fail) end
    fam:call("b", ok)
    same:call("c", ok)
    fam:call("a", ok) -- rejected
    local text = fluxgate.prometheus()
    assert.are.equal(3, calls(text, "api", "failure"))
    assert.are.equal(2, calls(text, "api", "success"))
    assert.are.equal(1, calls(text, "api", "rejected"))
    assert.are.equal(1, family_state(text, "api", "open"))
    assert.are.equal(2, family_state(text, "api", "closed"))
    -- key breakers are not breakers of their own in the exposition
    assert.is_nil(text:find('circuit_breaker_state{circuit_name="api"', 1, true))
    assert.truthy(text:find(
      'circuit_breaker_state_transition_total{circuit_name="api",old_state="closed",new_state="open"} 1', 1, true))
    local s = fam:stats()
    assert.are.equal(3, s.keys)
    assert.are.equal(8, s.capacity)
    -- handles collected: the counters are the table's, nothing lost or doubled
    fam, same = nil, nil
    collectgarbage()
    collectgarbage()
    local again = assert(p:shared_family("api", zone()))
    text = fluxgate.prometheus()
    assert.are.equal(3, calls(text, "api", "failure"))
    assert.are.equal(2, calls(text, "api", "success"))
    assert.are.equal("open", again:state("a"))
  end)

  it("starts a fresh table for a changed definition or capacity, with a notice and the counters carried", function()
    local p = assert(fluxgate.compile(SRC))
    local fam = assert(p:shared_family("api", zone()))
    for _ = 1, 3 do fam:call("a", fail) end
    fam:call("b", ok)
    local before = fluxgate.prometheus()
    fam = nil
    collectgarbage()
    collectgarbage()
    local notices = {}
    local note = function(m) notices[#notices + 1] = m end
    local changed = assert(fluxgate.compile("breaker api { tripper = FailureStreak(4) }"))
    local c = assert(changed:shared_family("api", zone({ notice = note })))
    assert.are.equal(1, #notices)
    assert.truthy(notices[1]:find("shared family 'api' in zone 'f" .. z.n .. "' has a changed definition or capacity", 1, true))
    assert.are.equal(0, c:size())
    assert.are.equal("closed", c:state("a"))
    local after = fluxgate.prometheus()
    assert.are.equal(calls(before, "api", "failure"), calls(after, "api", "failure"))
    assert.are.equal(calls(before, "api", "success"), calls(after, "api", "success"))
    c = nil
    collectgarbage()
    -- another capacity: another table
    local bigger = assert(changed:shared_family("api", zone({ capacity = 16, notice = note })))
    assert.are.equal(2, #notices)
    assert.are.equal(16, bigger:capacity())
    assert.are.equal(3, calls(fluxgate.prometheus(), "api", "failure"))
  end)

  it("counts the calls made on the old table after a changed definition once, in every reader", function()
    local p = assert(fluxgate.compile(SRC))
    local old = assert(p:shared_family("api", zone()))
    old:call("a", ok)
    local changed = assert(fluxgate.compile("breaker api { tripper = FailureStreak(4) }"))
    local new = assert(changed:shared_family("api", zone({ notice = function() end })))
    local before = fluxgate.prometheus()
    -- an old worker of a graceful reload: still on the old table, even making keys
    old:call("late", fail)
    old:call("a", ok)
    new:call("a", fail)
    local after = fluxgate.prometheus()
    assert.are.equal(1, calls(before, "api", "success"))
    assert.are.same({ 2, 2 }, { calls(after, "api", "success"), calls(after, "api", "failure") })
    assert.are.same(old:stats().counts, new:stats().counts)
    -- keys are each table's own
    assert.are.same({ 2, 1 }, { old:size(), new:size() })
  end)

  it("works with fluxgate.nginx-style callers that need only get(key)", function()
    local p = assert(fluxgate.compile(SRC))
    local fam = assert(p:shared_family("other", zone()))
    local get = fam.get
    local cb = assert(get(fam, "upstream-1"))
    local token = assert(cb:acquire())
    cb:release(token, true, 200, 0.01)
    assert.are.equal(1, fam:stats().counts[1])
  end)
end)
