-- cb:release and fam:release misused: the same words on every engine path,
-- naming the object's kind ("breaker", "family"). (Where the position
-- points differs by path: none from Lua 5.4's C functions, the user's line
-- on the FFI path, fluxgate's Lua frame on LuaJIT's classic path.) Breakers and families share one check per
-- path (fluxgate_lua.h's fgl_check_release, ffi_path.lua's check_release):
-- these pin its words for both kinds.
local fluxgate = require("fluxgate")
local H = dofile("tests/lua/helper.lua")

local policy = assert(fluxgate.compile([[
breaker svc {
    window  = CountWindow(10)
    tripper = FailureStreak(5)
}
]], "release_misuse_spec"))

local SOURCE = debug.getinfo(1, "S").short_src

local unpack = table.unpack or unpack

-- Calls obj:release(...) on a line of this file; returns the error and that line.
local function release_error(obj, ...)
  local args = { n = select("#", ...), ... }
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(function() obj:release(unpack(args, 1, args.n)) end)
  assert.is_false(ok)
  return err, line
end

-- The message is exactly msg, after a position if it has one; on the FFI
-- path that position is this file's line of the call.
local function assert_message(msg, err, line)
  assert.is_string(err)
  if err == msg then return end
  local where = err:sub(1, #err - #msg - 2)
  assert.are.equal(where .. ": " .. msg, err)
  assert.is_truthy(where:match("^.+:%d+$"), err)
  if where:find(SOURCE, 1, true) == 1 then assert.are.equal(SOURCE .. ":" .. line, where) end
end

for _, use_ffi in ipairs(H.paths()) do
  local function it_(name, fn) it(name .. " (" .. H.path_name(use_ffi) .. ")", function() H.with_path(use_ffi, fn) end) end

  describe("release misused", function()
    it_("a breaker's release of something that is not its token names the breaker", function()
      local cb = policy:breaker("svc")
      local other = policy:breaker("svc")
      assert_message("bad argument #1 to 'release' (a token from this breaker's acquire expected, got table)",
                     release_error(cb, {}, true))
      local token = other:acquire()
      assert_message(("bad argument #1 to 'release' (a token from this breaker's acquire expected, got %s)")
                       :format(type(token)), release_error(cb, token, true))
    end)

    it_("a family's release of something that is not its token names the family", function()
      local fam = assert(policy:family("svc"))
      local other = assert(policy:family("svc"))
      assert_message("bad argument #1 to 'release' (a token from this family's acquire expected, got table)",
                     release_error(fam, {}, true))
      local token = other:acquire("k")
      assert_message(("bad argument #1 to 'release' (a token from this family's acquire expected, got %s)")
                       :format(type(token)), release_error(fam, token, true))
    end)

    it_("a family's token is refused by a breaker's release, a breaker's by a family's, and a file by both", function()
      local cb = policy:breaker("svc")
      local fam = assert(policy:family("svc"))
      local fam_token, cb_token = fam:acquire("k"), cb:acquire()
      for _, v in ipairs({ fam_token, io.stdout }) do
        assert_message(("bad argument #1 to 'release' (a token from this breaker's acquire expected, got %s)")
                         :format(type(v)), release_error(cb, v, true))
      end
      for _, v in ipairs({ cb_token, io.stdout }) do
        assert_message(("bad argument #1 to 'release' (a token from this family's acquire expected, got %s)")
                         :format(type(v)), release_error(fam, v, true))
      end
      cb:release(cb_token, true) -- both still valid for their own
      fam:release(fam_token, true)
      assert.are.equal(1, cb:info().metrics.total_count)
    end)

    it_("a duration that is not a number is refused, by breakers and families alike", function()
      local cb = policy:breaker("svc")
      assert_message("bad argument #4 to 'release' (number expected, got string)",
                     release_error(cb, cb:acquire(), true, nil, "1s"))
      local fam = assert(policy:family("svc"))
      assert_message("bad argument #4 to 'release' (number expected, got string)",
                     release_error(fam, fam:acquire("k"), true, nil, "1s"))
    end)
  end)
end
