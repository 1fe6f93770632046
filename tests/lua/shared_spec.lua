-- policy:shared_breaker: a breaker whose state block lives in a shared map
-- (a file mapped MAP_SHARED). Cross-process behaviour (fork, SIGKILL) is in
-- tests/test_lock_recovery.c and the real nginx (tests/nginx); here, within
-- one process: handles on one block share everything, a changed definition
-- starts fresh with a notice and keeps its counters, metrics count a block
-- once, limits give clear errors.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local SRC = [[
breaker api { tripper = FailureStreak(3) retry = Cooldown(60s) }
breaker other { tripper = FailureStreak(3) }
]]

-- A policy text with its breakers renamed after N (api -> N.api, ...).
local function named(N, src)
  return (src:gsub("breaker (%w+)", function(short) return "breaker " .. N[short] end))
end

-- Names for api and other that no other test uses (N.api, N.other):
-- prometheus() reports a name's totals over this Lua state's plain breakers
-- of that name, live, closed or collected (the name's counter sink), and
-- over every zone still open, and its state gauge counts every live breaker
-- of the name -- so a test that reads them owns its names.
local function fresh_names()
  local id = H.fresh_name("shared")
  return { api = "api_" .. id, other = "other_" .. id }
end

-- SRC compiled for one test under fresh names; returns the policy and N.
local function policy()
  local N = fresh_names()
  return assert(fluxgate.compile(named(N, SRC))), N
end

local function fail() return nil, "boom" end
local function ok() return true end

local calls = H.calls

describe("policy:shared_breaker", function()
  local z = H.shared_zones("z")
  before_each(z.setup)
  after_each(z.teardown)
  local zone = z.zone

  it("puts the state in a file named after the zone, and two handles share it", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    local b = assert(p:shared_breaker(N.api, zone()))
    assert.truthy(io.open(z.dir .. "/fluxgate-z" .. z.n .. ".zone"))
    a:call(fail)
    b:call(fail)
    assert.are.equal("closed", a:state())
    a:call(fail)
    -- the threshold's 3 failures, made through two handles, opened both
    assert.are.equal("open", b:state())
    assert.are.equal(3, calls(fluxgate.prometheus(), N.api, "failure"))
    assert.is_nil((a:call(ok)))
    a:close()
    b:close()
  end)

  it("refuses a reload: other handles on the block could not follow it", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    local b = assert(p:shared_breaker(N.api, zone()))
    local q = assert(fluxgate.compile(named(N, "breaker api { tripper = FailureStreak(5) }")))
    local okr, err = a:reload(q)
    assert.is_nil(okr)
    assert.truthy(err:find("shared", 1, true), err)
    -- nothing changed: both handles still drive the one block
    a:call(fail)
    b:call(fail)
    a:call(fail)
    assert.are.equal("open", b:state())
    a:close()
    b:close()
  end)

  -- A restore set the block's counters back to the snapshot's: the
  -- instance's calls_total went from 5 to 0 in prometheus() (counters
  -- never decrease, SPEC section 10).
  it("refuses a restore (counters never go back); its snapshot restores elsewhere", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    local empty = a:snapshot()
    for _ = 1, 5 do a:call(ok) end
    a:call(fail)
    local before, info_before = a:snapshot(), a:info()
    local okr, err = a:restore(empty)
    assert.is_nil(okr)
    assert.are.equal("cannot restore: the breaker's state block is shared with other processes "
                     .. "(a shared breaker), whose counters never go back; nothing changed", err)
    assert.are.equal(5, calls(fluxgate.prometheus(), N.api, "success"))
    assert.are.equal(1, calls(fluxgate.prometheus(), N.api, "failure"))
    -- unchanged: the same info (a second snapshot would differ in its
    -- clock-relative times when the clock has moved on in between)
    assert.are.same(info_before, a:info())
    -- into a plain breaker: the state and window are restored, the
    -- counters are not (a plain breaker's are its name's totals in this Lua
    -- state, which never go down; a shared breaker does not count into them)
    local plain = assert(p:breaker(N.api))
    local counted = plain:info().counters
    assert.are.equal(true, plain:restore(before))
    assert.are.same(counted, plain:info().counters)
    assert.are.equal(info_before.metrics.total_count, plain:info().metrics.total_count)
    assert.are.equal(6, plain:info().metrics.total_count)
    assert.are.equal(1, plain:info().consecutive_failures)
    assert.are.equal(info_before.transitions, plain:info().transitions)
    assert.are.equal(5, calls(fluxgate.prometheus(), N.api, "success"))
    a:close()
  end)

  it("keeps different names in different blocks", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    local o = assert(p:shared_breaker(N.other, zone()))
    for _ = 1, 3 do a:call(fail) end
    assert.are.equal("open", a:state())
    assert.are.equal("closed", o:state())
    assert.are.equal(0, o:info().metrics.total_count)
  end)

  it("exports a shared block once, however many handles this process has on it", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    local b = assert(p:shared_breaker(N.api, zone()))
    a:call(fail)
    b:call(ok)
    local text = fluxgate.prometheus()
    assert.are.equal(1, calls(text, N.api, "failure"))
    assert.are.equal(1, calls(text, N.api, "success"))
    assert.truthy(text:find('circuit_breaker_state{circuit_name="' .. N.api .. '",state="closed"} 1', 1, true))
    -- a closed handle does not add its block's counters to the closed totals
    a:close()
    a = nil
    collectgarbage()
    text = fluxgate.prometheus()
    assert.are.equal(1, calls(text, N.api, "failure"))
    b:close()
  end)

  it("attaches to the block of an unchanged definition (a reload), fresh state for a changed one, with a notice", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    for _ = 1, 3 do a:call(fail) end
    assert.are.equal("open", a:state())
    local notices = {}
    local note = function(msg) notices[#notices + 1] = msg end
    -- the same text compiled again: the same definition
    local again = assert(fluxgate.compile(named(N, SRC))):shared_breaker(N.api, zone({ notice = note }))
    assert.are.equal("open", again:state())
    assert.are.equal(0, #notices)
    -- another tripper: a new block, closed, with the counters carried over
    local changed = assert(fluxgate.compile(named(N, "breaker api { tripper = FailureStreak(4) }")))
    local c = assert(changed:shared_breaker(N.api, zone({ notice = note })))
    assert.are.equal("closed", c:state())
    assert.are.equal(1, #notices)
    assert.truthy(notices[1]:find("shared breaker '" .. N.api .. "' in zone 'z" .. z.n .. "' has a changed definition", 1, true))
    -- the 3 failures, once: the old block and the new one are one chain,
    -- exported once however many handles this state has on its blocks
    assert.are.equal(3, calls(fluxgate.prometheus(), N.api, "failure"))
    assert.are.equal(3, c:info().counters.failure)
    -- the old handle keeps its own (retired) block
    assert.are.equal("open", a:state())
  end)

  it("counts the calls an old handle makes after a changed definition, once, through every handle", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    a:call(ok)
    a:call(fail)
    local changed = assert(fluxgate.compile(named(N, "breaker api { window = CountWindow(50) tripper = FailureStreak(4) }")))
    local c = assert(changed:shared_breaker(N.api, zone({ notice = function() end })))
    local scrapes = { fluxgate.prometheus() }
    -- an old worker of a graceful reload: still on the old block
    a:call(fail)
    a:call(fail) -- the old definition's third failure in a row: open
    assert.are.equal("open", a:state())
    a:call(ok)   -- rejected
    scrapes[#scrapes + 1] = fluxgate.prometheus()
    c:call(ok)
    c:call(fail)
    scrapes[#scrapes + 1] = fluxgate.prometheus()
    local last = scrapes[#scrapes]
    assert.are.same({ 2, 4, 1 }, { calls(last, N.api, "success"), calls(last, N.api, "failure"), calls(last, N.api, "rejected") })
    for _, cb in ipairs({ a, c }) do
      local n = cb:info().counters
      assert.are.same({ 2, 4, 1, 6 }, { n.success, n.failure, n.rejected, n.admitted })
    end
    for i = 2, #scrapes do
      for _, outcome in ipairs({ "success", "failure", "rejected" }) do
        assert.is_true(calls(scrapes[i], N.api, outcome) >= calls(scrapes[i - 1], N.api, outcome))
      end
    end
    -- a closed old handle leaves the counters where they are
    a:close()
    assert.are.equal(4, calls(fluxgate.prometheus(), N.api, "failure"))
  end)

  it("says clearly when the zone is full", function()
    local big = assert(fluxgate.compile("breaker big { window = CountWindow(20000) tripper = FailureRate(50%) }"))
    local cb, err = big:shared_breaker("big", zone({ size = "64k" }))
    assert.is_nil(cb)
    assert.truthy(err:find("shared breaker 'big' in zone 'z" .. z.n .. "': the shared zone is full", 1, true), err)
    assert.truthy(err:find("give the zone a larger size", 1, true), err)
  end)

  it("says clearly when 63 changed definitions fill the directory, and the chain keeps counting", function()
    local N = fresh_names()
    local handles = {}
    for g = 1, 64 do
      local p = assert(fluxgate.compile(named(N, ("breaker api { window = CountWindow(%d) }"):format(10 + g))))
      handles[g] = assert(p:shared_breaker(N.api, zone({ notice = function() end })))
    end
    local p = assert(fluxgate.compile(named(N, "breaker api { window = CountWindow(100) }")))
    local cb, err = p:shared_breaker(N.api, zone({ notice = function() end }))
    assert.is_nil(cb)
    assert.are.equal("shared breaker '" .. N.api .. "' in zone 'z" .. z.n .. "': the shared zone is full: its directory "
      .. "holds 64 regions (replaced definitions included until a restart)", err)
    -- every handle, the root's and the head's, counts into one chain of 64 blocks
    for _, h in ipairs(handles) do h:call(ok) end
    for _, h in ipairs(handles) do assert.are.equal(64, h:info().counters.success) end
    assert.are.equal(64, calls(fluxgate.prometheus(), N.api, "success"))
    for _, h in ipairs(handles) do h:close() end
  end)

  it("refuses a zone larger than the file in use, a bad zone name, a Lua clock", function()
    local p, N = policy()
    local keep = assert(p:shared_breaker(N.api, zone({ zone = "grow" })))
    -- another spelling of the path opens the file again, as a new Lua VM would
    local other = assert(fluxgate.compile(named(N, SRC)))
    local cb, err = other:shared_breaker(N.api, { dir = z.dir .. "/.", zone = "grow", size = "8m" })
    assert.is_nil(cb)
    assert.truthy(err:find("restart (not reload) to resize it", 1, true), err)
    assert.has_error(function() p:shared_breaker(N.api, zone({ zone = "../x" })) end)
    assert.has_error(function() p:shared_breaker(N.api, zone({ clock = function() return 0 end })) end)
    assert.has_error(function() p:shared_breaker(N.api, zone({ size = "lots" })) end)
    local ok_cb = assert(p:shared_breaker(N.api, zone({ clock = "precise" })))
    assert.are.equal("precise", ok_cb:info().clock)
    keep:close()
  end)

  it("refuses a larger size for a zone this process opened already, not dropping it", function()
    -- the zone's first opening (the default size, 1m) maps it; a later
    -- breaker or family of the same zone asking for more must hear so
    -- there, not find the zone "full" later and be told to give a size it gave
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, zone()))
    local cb, err = p:shared_breaker(N.other, zone({ size = "8m" }))
    assert.is_nil(cb)
    assert.are.equal("shared zone 'z" .. z.n .. "': opened in this process with 1048576 bytes by "
      .. "an earlier shared breaker or family of the zone, fewer than the 8388608 asked for: "
      .. "give the size to the zone's first opening (the same size to each)", err)
    local fam, ferr = p:shared_family(N.other, zone({ capacity = 4, size = 8388608 }))
    assert.is_nil(fam)
    assert.truthy(ferr:find("fewer than the 8388608 asked for", 1, true), ferr)
    -- the same size, a smaller one, or none attach to the zone as opened
    for _, size in ipairs({ "1m", "64k" }) do
      local b = assert(p:shared_breaker(N.other, zone({ size = size })))
      b:close()
    end
    local f = assert(p:shared_family(N.other, zone({ capacity = 4 })))
    assert.truthy(f:get("k"))
    a:close()
  end)

  it("names an unknown breaker as policy:breaker does", function()
    local p, N = policy()
    local cb, err = p:shared_breaker("nope", zone())
    assert.is_nil(cb)
    assert.truthy(err:find("no breaker named 'nope'", 1, true))
  end)

  it("hears the transitions this process causes, once each", function()
    local p, N = policy()
    local heard = {}
    local a = assert(p:shared_breaker(N.api, zone({ listeners = { function(s) heard[#heard + 1] = s.new_state end } })))
    for _ = 1, 3 do a:call(fail) end
    a:force_open()
    assert.are.same({ "open", "forced_open" }, heard)
  end)
end)

-- A shared breaker's random function runs while the engine holds that
-- breaker's lock (each draw belongs to one decision), which every handle on
-- its block and every other process waits for. A shared block used from
-- there would wait for the lock its own thread holds, forever (it did:
-- prometheus(), another handle's info() or call(), a shared family's
-- stats()); so every shared breaker and family is refused there, reported as
-- the random function's failure. Run in a child interpreter under
-- `timeout`, so that a regression fails instead of hanging the suite.
describe("a shared breaker's random function", function()
  local z = H.shared_zones("rnd")
  before_each(z.setup)
  after_each(z.teardown)

  it("cannot use a shared breaker or family (it would wait for the lock it holds)", function()
    local script = z.dir .. "/run.lua"
    local f = assert(io.open(script, "w"))
    local text = ([[
      local fluxgate = require("fluxgate")
      io.stdout:setvbuf("no")
      local p = assert(fluxgate.compile("breaker b { tripper = FailureStreak(1) retry = Always() permit = Random(50%) }"))
      local zone = { dir = "DIR", zone = "r" }
      local action, other
      local function random()
        local ok, err = pcall(action)
        print(ok and "ran" or "refused: " .. tostring(err))
        return 0.1
      end
      local cb = assert(p:shared_breaker("b", { dir = "DIR", zone = "r", random = random }))
      other = assert(p:shared_breaker("b", zone))
      local fam = assert(p:shared_family("b", { dir = "DIR", zone = "r", capacity = 8, random = random }))
      local paths = package.loaded["fluxgate.paths"]
      print("other on the FFI path:", paths.FfiShared ~= nil and getmetatable(other).__index.call == paths.FfiShared.call)
      local actions = {
        prometheus = function() return fluxgate.prometheus() end,
        info = function() return other:info() end,
        call = function() return other:call(function() return 1 end) end,
        acquire = function() return other:acquire() end,
        new_handle = function() return p:shared_breaker("b", zone) end,
        family_stats = function() return fam:stats() end,
      }
      for _, name in ipairs({ "prometheus", "info", "call", "acquire", "new_handle", "family_stats" }) do
        action = actions[name]
        io.write(name, ": ")
        cb:reset()
        cb:call(function() return nil, "down" end) -- opens it; the next call is a probe that draws
        cb:call(function() return 1 end)
      end
      action = function() return fluxgate.prometheus() end
      io.write("family key: ")
      fam:call("k", function() return nil, "down" end)
      fam:call("k", function() return 1 end)
      action = function() return 1 end
      io.write("other breakers: ")
      cb:reset()
      cb:call(function() return nil, "down" end)
      cb:call(function() return 1 end)
      print("done", #fluxgate.prometheus() > 0)
    ]]):gsub("DIR", z.dir)
    f:write(text)
    f:close()
    local interpreter = rawget(_G, "jit") and "luajit" or "lua5.4"
    local child = assert(io.popen("timeout 20 " .. interpreter .. " '" .. script .. "' 2>&1"))
    local out = child:read("*a")
    child:close()
    local refused = "refused: .*shared breakers and families cannot be used from a shared breaker's random function"
    for _, name in ipairs({ "prometheus", "info", "call", "acquire", "new_handle", "family_stats", "family key" }) do
      assert.truthy(out:find(name .. ": " .. refused), name .. " in:\n" .. out)
    end
    assert.truthy(out:find("other breakers: ran\ndone\ttrue", 1, true), out)
    -- under LuaJIT, "call" and "acquire" went through the FFI path's own check
    local on_ffi = package.loaded["fluxgate.paths"].has_ffi
    assert.truthy(out:find("other on the FFI path:\t" .. tostring(on_ffi), 1, true), out)
  end)
end)

-- SPEC 10: counters never decrease, and a shared breaker's are the
-- instance's. A process's prometheus() dropped a shared breaker's or
-- family's series once its last handle there was closed or collected
-- (other workers still count into the block), and never showed one that
-- another process made in a zone it has open. Now every zone the Lua state
-- opened is read (core.shared_map_totals).
describe("prometheus() and shared zones", function()
  local z = H.shared_zones("metrics")
  before_each(z.setup)
  after_each(z.teardown)

  local function state(text, name, st)
    return tonumber(text:match('circuit_breaker_state{circuit_name="' .. name .. '",state="' .. st .. '"} (%d+)'))
  end

  it("keeps a shared breaker's series after its last handle here is closed and collected", function()
    local p, N = policy()
    local a = assert(p:shared_breaker(N.api, z.zone()))
    a:call(ok)
    for _ = 1, 3 do a:call(fail) end
    a:call(ok) -- rejected: open
    local before = fluxgate.prometheus()
    a:close()
    a = nil
    collectgarbage()
    collectgarbage()
    local after = fluxgate.prometheus()
    for _, outcome in ipairs({ "success", "failure", "rejected" }) do
      assert.are.equal(calls(before, N.api, outcome), calls(after, N.api, outcome), outcome)
    end
    assert.are.same({ 1, 3, 1 }, { calls(after, N.api, "success"), calls(after, N.api, "failure"), calls(after, N.api, "rejected") })
    assert.truthy(after:find('circuit_breaker_state_transition_total{circuit_name="' .. N.api .. '",old_state="closed",new_state="open"} 1', 1, true))
    -- the instance's breaker is still open in the zone
    assert.are.equal(1, state(after, N.api, "open"))
    -- a handle made again counts it once
    local again = assert(p:shared_breaker(N.api, z.zone()))
    assert.are.equal(3, calls(fluxgate.prometheus(), N.api, "failure"))
    assert.are.equal(1, state(fluxgate.prometheus(), N.api, "open"))
    again:close()
  end)

  it("shows what another process made in a zone this one has open, once", function()
    local p, N = policy()
    local mine = assert(p:shared_breaker(N.other, z.zone()))
    local o = z.zone()
    local out = H.run_child(([[
      local fluxgate = require("fluxgate")
      local p = assert(fluxgate.compile(%q))
      local cb = assert(p:shared_breaker(%q, { dir = %q, zone = %q }))
      for _ = 1, 2 do cb:call(function() return nil, "x" end) end
      cb:call(function() return true end)
      local fam = assert(p:shared_family(%q, { dir = %q, zone = %q, capacity = 4 }))
      fam:call("k1", function() return true end)
      fam:call("k2", function() return nil, "x" end)
      print("ok")
    ]]):format(named(N, SRC), N.api, o.dir, o.zone, N.api, o.dir, o.zone))
    assert.are.equal("ok\nexit 0\n", out)
    local text = fluxgate.prometheus()
    -- the breaker (2 failures, 1 success) and the family (1 + 1) of name N.api
    assert.are.equal(3, calls(text, N.api, "failure"))
    assert.are.equal(2, calls(text, N.api, "success"))
    assert.are.equal(1, state(text, N.api, "closed"))
    assert.truthy(text:find('circuit_breaker_family_state{circuit_name="' .. N.api .. '",state="closed"} 2', 1, true), text)
    -- this process's own breaker once, not again from the zone
    mine:call(fail)
    assert.are.equal(1, calls(fluxgate.prometheus(), N.other, "failure"))
    assert.are.equal(1, state(fluxgate.prometheus(), N.other, "closed"))
    mine:close()
  end)

  it("keeps a shared family's series after it is collected", function()
    local p, N = policy()
    local fam = assert(p:shared_family(N.api, z.zone({ capacity = 4 })))
    fam:call("a", ok)
    fam:call("b", fail)
    local before = fluxgate.prometheus()
    fam = nil
    collectgarbage()
    collectgarbage()
    local after = fluxgate.prometheus()
    assert.are.equal(1, calls(after, N.api, "success"))
    assert.are.equal(1, calls(after, N.api, "failure"))
    assert.are.equal(calls(before, N.api, "failure"), calls(after, N.api, "failure"))
    assert.truthy(after:find('circuit_breaker_family_state{circuit_name="' .. N.api .. '",state="closed"} 2', 1, true), after)
  end)
end)

-- The zones' walk (core.shared_map_totals) reads names, counters and
-- chains that any process -- or any program -- wrote: what it exports
-- must still be one valid exposition, each count once.
describe("prometheus() over what the zones hold", function()
  local z = H.shared_zones("walk")
  before_each(z.setup)
  after_each(z.teardown)

  local function zone_file(o) return o.dir .. "/fluxgate-" .. o.zone .. ".zone" end

  -- series (everything before the value) -> how many lines
  local function duplicates(text)
    local seen, dup = {}, {}
    for line in text:gmatch("[^\n]+") do
      if line:sub(1, 1) ~= "#" then
        local series = assert(line:match("^(.-) %-?%d+$"), line)
        if seen[series] then dup[#dup + 1] = series end
        seen[series] = true
      end
    end
    return dup
  end

  -- The binding refuses names that are not UTF-8 (fluxgate_name.c): one
  -- such label value makes Prometheus refuse the whole scrape. A region
  -- name in the directory is whatever was written there.
  it("leaves out a region whose name is no name the binding accepts", function()
    -- "api" itself: the bytes overwritten below are its 3; the test reads
    -- no counts
    local p = assert(fluxgate.compile(SRC))
    local o = z.zone()
    local cb = assert(p:shared_breaker("api", o))
    cb:call(fail)
    cb:close()
    cb = nil
    collectgarbage()
    collectgarbage()
    -- entry 0 (the directory after a 64-byte header, 256 bytes an entry):
    -- its name at +36, 3 bytes; now 3 bytes that are no UTF-8
    local f = assert(io.open(zone_file(o), "r+b"))
    assert(f:seek("set", 64 + 36))
    f:write("\255\254\253")
    f:close()
    local text = fluxgate.prometheus()
    assert.is_nil(text:find("[\128-\255]"), text)
    assert.is_nil(text:find("circuit_name=\"\\", 1, true), text)
  end)

  -- Two spellings of one directory (a symlink, "//", "/./") open one file:
  -- the Lua state held two maps of it, and the zones' walk counted its
  -- breakers once per map.
  it("counts a zone opened through two spellings of its directory once", function()
    local p, N = policy()
    local o = z.zone()
    local cb = assert(p:shared_breaker(N.api, o))
    for _ = 1, 2 do cb:call(fail) end
    local fam = assert(p:shared_family(N.other, { dir = o.dir .. "/.", zone = o.zone, capacity = 4 }))
    fam:call("k", fail)
    local text = fluxgate.prometheus()
    assert.are.equal(2, calls(text, N.api, "failure"))
    assert.are.equal(1, calls(text, N.other, "failure"))
    assert.are.same({}, duplicates(text))
    -- one block, whichever spelling a handle was made through
    local again = assert(p:shared_breaker(N.api, { dir = o.dir .. "//", zone = o.zone }))
    local third = assert(p:shared_breaker(N.api, { dir = o.dir .. "/./", zone = o.zone }))
    third:call(fail)
    assert.are.equal("open", again:state())
    assert.are.equal(3, calls(fluxgate.prometheus(), N.api, "failure"))
    cb:close(); again:close(); third:close()
  end)

  -- One name, every kind: a plain breaker, a shared breaker and a shared
  -- family in two zones, some with handles here, some only in the zones.
  it("writes one series per label set whatever kinds and zones share a name", function()
    local p, N = policy()
    local o1 = z.zone()
    local o2 = { dir = o1.dir, zone = o1.zone .. "b" }
    local plain = assert(p:breaker(N.api))
    plain:call(fail)
    local s1 = assert(p:shared_breaker(N.api, o1))
    s1:call(fail)
    local f1 = assert(p:shared_family(N.api, { dir = o1.dir, zone = o1.zone, capacity = 4 }))
    f1:call("k", fail)
    local s2 = assert(p:shared_breaker(N.api, o2))
    s2:call(ok)
    local f2 = assert(p:shared_family(N.api, { dir = o2.dir, zone = o2.zone, capacity = 4 }))
    f2:call("k", ok)
    local with_handles = fluxgate.prometheus()
    assert.are.same({}, duplicates(with_handles))
    assert.are.equal(3, calls(with_handles, N.api, "failure"))
    assert.are.equal(2, calls(with_handles, N.api, "success"))
    assert.truthy(with_handles:find('circuit_breaker_state{circuit_name="' .. N.api .. '",state="closed"} 3', 1, true), with_handles)
    assert.truthy(with_handles:find('circuit_breaker_family_state{circuit_name="' .. N.api .. '",state="closed"} 2', 1, true), with_handles)
    s1:close(); s2:close()
    s1, s2, f1, f2 = nil, nil, nil, nil
    collectgarbage()
    collectgarbage()
    -- the same from the zones alone
    local without = fluxgate.prometheus()
    assert.are.same({}, duplicates(without))
    assert.are.equal(with_handles, without)
    plain:close()
  end)
end)
