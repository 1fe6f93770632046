--[[
fluxgate/classic_path.lua -- the classic engine path of breakers: the Lua C
API's cb:call, cb:call_with_fallback, cb:acquire and cb:release.

  * Lua 5.4: the whole protocol is C (lua/fluxgate_call.c; fn runs under
    lua_pcallk, so it may yield): these are fluxgate.core's functions.
  * LuaJIT: breakers with Lua callbacks (the engine must not call Lua during
    an FFI call) run fn under pcall in a Lua frame here; admission and the
    outcome rules stay in C (core.admit, core.record).

  local classic = require("fluxgate.classic_path")(core, H, methods_with, is_callable)
  classic.Classic                                  -- the breakers' methods on this path
  classic.make_finish(c_record, c_pending_of, drain_of) -- also for families
  classic.make_release(c_release, c_pending_of, drain_of) -- likewise
  classic.cross_release(Ffi_methods, Classic_methods, ffi_type) -- tokens find their own path
]]
local type, error, pcall, select, getmetatable, rawget =
  type, error, pcall, select, getmetatable, rawget

return function(core, H, methods_with, is_callable)
  local MARK, c_pending, drain = core.MARK, core.pending, H.drain

  -- The end of a call on LuaJIT's classic path (objects with Lua callbacks):
  -- records pcall's results through c_record(self, a, g, t0, x, ok, ...) (a,
  -- g, t0, x: the ticket admit gave, x a breaker's fallback or a family key's
  -- entry), drains, and returns fn's results or raises its error (finish), or
  -- returns fallback(e) for a failure (finish_fallback). The outcome rules are
  -- the C record's.
  local function make_finish(c_record, c_pending_of, drain_of)
    local function finish(self, a, g, t0, x, ok, ...)
      c_record(self, a, g, t0, x, ok, ...)
      if c_pending_of(self) then drain_of(self) end
      if not ok then error((...), 0) end
      return ...
    end
    local function finish_fallback(self, fallback, a, g, t0, x, ok, ...)
      local err = c_record(self, a, g, t0, x, ok, ...)
      if c_pending_of(self) then drain_of(self) end
      if err then return fallback((select(err, ...))) end
      return ...
    end
    return finish, finish_fallback
  end

  -- release on LuaJIT's classic path: c_release(self, token, ...) (its
  -- checks and the outcome rules are C's), then the drain.
  local function make_release(c_release, c_pending_of, drain_of)
    return function(self, ...)
      c_release(self, ...)
      if c_pending_of(self) then drain_of(self) end
    end
  end

  local Classic -- the classic C API's methods
  if core.call then -- Lua 5.4: the protocol is C
    Classic = methods_with({ call = core.call, call_with_fallback = core.call_with_fallback,
                             acquire = core.acquire, release = core.release })
  else -- LuaJIT: fn runs under pcall in a Lua frame; outcomes are read by C
    local c_admit, c_record, c_acquire, c_release = core.admit, core.record, core.acquire, core.release

    local finish, finish_fallback = make_finish(c_record, c_pending, drain)

    local function is_breaker(v)
      local mt = getmetatable(v)
      return type(v) == "userdata" and type(mt) == "table" and rawget(mt, 1) == MARK
    end

    Classic = methods_with({
      call = function(self, fn, ...)
        if not is_breaker(self) then H.misuse_self(self, "call") end
        if not is_callable(fn) then H.check_callable(fn, 1, "call") end
        local key, g, t0 = c_admit(self)
        if c_pending(self) then drain(self) end
        if key == nil then return nil, g end
        return finish(self, key, g, t0, nil, pcall(fn, ...))
      end,
      call_with_fallback = function(self, fn, fallback, ...)
        if not is_breaker(self) then H.misuse_self(self, "call_with_fallback") end
        if not is_callable(fn) then H.check_callable(fn, 1, "call_with_fallback") end
        if not is_callable(fallback) then H.check_callable(fallback, 2, "call_with_fallback") end
        local key, g, t0 = c_admit(self)
        if c_pending(self) then drain(self) end
        if key == nil then return fallback(g) end
        return finish_fallback(self, fallback, key, g, t0, fallback, pcall(fn, ...))
      end,
      acquire = function(self)
        local token, r = c_acquire(self)
        if c_pending(self) then drain(self) end
        return token, r
      end,
      release = make_release(c_release, c_pending, drain),
    })
  end

  -- A token belongs to the path that made it; a reload may switch the
  -- object's path between acquire and release: each path's release hands the
  -- other's tokens to the other (tail calls: errors still name the caller).
  -- ffi_type: the Lua type of the FFI path's tokens ("table" for breakers,
  -- "cdata" for families); the classic path's are userdata.
  local function cross_release(Ffi_methods, Classic_methods, ffi_type)
    if not Ffi_methods then return end
    local ffi_release, classic_release = Ffi_methods.release, Classic_methods.release
    Ffi_methods.release = function(self, token, ...)
      if type(token) == "userdata" then return classic_release(self, token, ...) end
      return ffi_release(self, token, ...)
    end
    Classic_methods.release = function(self, token, ...)
      if type(token) == ffi_type then return ffi_release(self, token, ...) end
      return classic_release(self, token, ...)
    end
  end

  return { Classic = Classic, make_finish = make_finish, make_release = make_release, cross_release = cross_release }
end
