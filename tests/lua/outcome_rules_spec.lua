-- The outcome rules are written twice, once per language boundary: in C
-- for the classic API (lua/fluxgate_outcome.c: Lua 5.4, and LuaJIT's
-- breakers with Lua callbacks) and in Lua for LuaJIT's FFI path
-- (lua/fluxgate/outcome.lua). They must give the same answers.
local core = require("fluxgate.core")
local outcome = require("fluxgate.outcome")

describe("the C and Lua outcome rules", function()
  it("read a string error's type alike, for tricky strings", function()
    local cases = {
      "timeout", "x.lua:3: timeout", '[string "a:b"]:12: oops', '[string "a"]:x: no',
      '[string "a"]:1:no', "a:1: ", "a:1:", ":1: x", "a\nb:1: c", "a:b:1: c", "a:12: b: 3: c",
      '[string "q"]:1: [string "r"]:2: s', '[string "x"]"]:5: y', '[string "', "", "x\0y:1: z",
      "C:\\dir\\f.lua:10: boom", "tcp:9: reset\n  stack",
    }
    for _, s in ipairs(cases) do
      assert.are.same({ outcome.error_fields(s) }, { core.error_fields(s) }, ("%q"):format(s))
    end
  end)

  it("take the position off when the chunk name holds ':' (OpenResty's inline code)", function()
    local cases = {
      ["content_by_lua(nginx.conf:10):2: timeout"] = "timeout",
      ["access_by_lua(nginx.conf:7):12: x.lua:3: nested"] = "x.lua:3: nested",
      ["C:\\app\\f.lua:10: boom"] = "boom",
      ["a:b:1: c"] = "c",
      ["dns: 1.2.3.4:53: timeout"] = "dns: 1.2.3.4:53: timeout", -- ": " is no chunk name's
      ["x:1\nb:2: c"] = "x:1\nb:2: c",
    }
    for s, ty in pairs(cases) do
      assert.are.equal(ty, (core.error_fields(s)), ("C: %q"):format(s))
      assert.are.equal(ty, (outcome.error_fields(s)), ("Lua: %q"):format(s))
    end
  end)

  it("let TypeOf() match an error raised in code whose chunk name holds ':'", function()
    -- what error("timeout") raises inside content_by_lua_block
    local raise = assert(load('error("timeout")', "=content_by_lua(nginx.conf:10)"))
    local ok, e = pcall(raise)
    assert.is_false(ok)
    assert.are.equal("content_by_lua(nginx.conf:10):1: timeout", e)
    local cb = assert(require("fluxgate").breaker("openresty", {
      tracker = 'TypeOf("timeout")', tripper = "FailureStreak(1)" }))
    assert.is_false(pcall(cb.call, cb, raise))
    assert.are.equal("open", cb:state())
  end)

  it("read a string error's type alike, for random strings", function()
    local alphabet = { "[", "string ", '"', "]", ":", "1", "23", " ", "\n", "x", "[string \"" }
    local seed = 12345
    local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n + 1 end
    for _ = 1, 5000 do
      local parts = {}
      for i = 1, rand(10) do parts[i] = alphabet[rand(#alphabet)] end
      local s = table.concat(parts)
      assert.are.same({ outcome.error_fields(s) }, { core.error_fields(s) }, ("%q"):format(s))
    end
  end)

  it("read error values of every kind alike", function()
    local hostile = setmetatable({}, { __index = function() error("no") end })
    local cases = {
      { type = "Timeout", message = "slow", status = 504 }, { name = "Named", msg = "m" },
      { type = 5, name = "fallback name" }, { message = 42 }, { status = 1e300 }, { status = 503.5 },
      42, true, hostile,
      setmetatable({}, { __tostring = function() return "told" end }),
    }
    for i, e in ipairs(cases) do
      assert.are.same({ outcome.error_fields(e) }, { core.error_fields(e) }, "case " .. i)
    end
  end)

  it("read a result's status alike, safely", function()
    local strict = setmetatable({}, { __index = function() error("strict") end })
    local proxied = setmetatable({}, { __index = function() return 502 end })
    for i, v in ipairs({ { status = 503 }, { status = "503" }, { status = 0 / 0 }, strict, proxied, 503, "x" }) do
      assert.are.equal(outcome.result_status(v), core.result_status(v), "call result " .. i)
      assert.are.equal(outcome.release_status(v), core.result_status(v, true), "released value " .. i)
    end
  end)
end)

-- LuaJIT's FFI path hands an error's type and message to the engine as
-- pointers into Lua strings, in one fg_outcome reused by every record. It
-- used to set them only for an error that has them and clear them after
-- the record: a debug hook raising in between (Lua code can be interrupted
-- at any instruction) left the old pointers in place, and the next error
-- without a type was classified by the interrupted one's type (a string
-- that may have been collected since).
describe("an FFI record interrupted after it set the error's type", function()
  local fluxgate = require("fluxgate")
  local it_ffi = package.loaded["fluxgate.paths"].has_ffi and it or pending

  -- Runs fn with a line hook that raises once, where the FFI path's record
  -- function (in file `module`) writes the message into the outcome, after
  -- the type.
  local function interrupted_after_type(module, fn)
    local path = assert(package.searchpath(module, package.path))
    local line = 0
    for text in io.lines(path) do
      line = line + 1
      if text:find("o.message = msg", 1, true) then break end
    end
    jit.flush() -- compiled code runs no hooks
    local fired = false
    local ok, err = pcall(function()
      debug.sethook(function(_, at)
        if not fired and at == line and debug.getinfo(2, "S").source:find(module:gsub("%.", "/") .. ".lua", 1, true) then
          fired = true
          error("interrupted", 0)
        end
      end, "l")
      fn()
    end)
    debug.sethook()
    assert.is_true(fired, "the hook never reached " .. path .. ":" .. line)
    assert.is_false(ok)
    assert.are.equal("interrupted", err)
  end

  local SRC = 'breaker b { tracker = TypeOf("Timeout") tripper = MinRequests(1000) }'

  it_ffi("does not classify the next error without a type by the interrupted one's (breaker)", function()
    local cb = assert(assert(fluxgate.compile(SRC)):breaker("b"))
    interrupted_after_type("fluxgate.ffi_path", function() cb:call(function() error({ type = "Timeout" }) end) end)
    local ok = pcall(cb.call, cb, function() error({ message = "no type" }) end)
    assert.is_false(ok)
    local c = cb:info().counters
    assert.are.same({ 0, 1 }, { c.failure, c.ignored })
  end)

  it_ffi("does not classify the next error without a type by the interrupted one's (family)", function()
    local fam = assert(assert(fluxgate.compile(SRC)):family("b"))
    interrupted_after_type("fluxgate.family_ffi", function() fam:call("k", function() error({ type = "Timeout" }) end) end)
    local ok = pcall(fam.call, fam, "k", function() error({ message = "no type" }) end)
    assert.is_false(ok)
    local s = fam:stats()
    assert.are.same({ 0, 1 }, { s.calls.failure, s.calls.ignored })
  end)
end)
