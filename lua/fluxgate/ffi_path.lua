--[[
fluxgate/ffi_path.lua -- the LuaJIT engine path: cb:call,
cb:call_with_fallback, cb:acquire and cb:release in Lua, straight into the
C functions that fluxgate/core.so exports, through the FFI. It serves the
breakers without Lua callbacks (a random function, Custom() predicates):
the engine must not call back into Lua in the middle of an FFI call.

  local path = require("fluxgate.ffi_path")(core, H)

path is nil where the FFI is not usable (not LuaJIT, no ffi module, core.so
not loadable -- it is looked for where Lua loaded it from, then on
package.cpath -- or missing an export), else the methods table; under
LuaJIT a second value says why it is nil (fluxgate.lua warns with it).
H holds fluxgate.lua's helpers (read_clock, drain, misuse_self, closed,
check_callable), so that both paths read clocks, drain transitions and
complain alike.

A breaker is its userdata: ffi.cast gives the address of its fgl_head.
With the default clock the engine reads the clock itself (it may pick a
coarse one); a Lua clock is its class's __clock. cb:call keeps its ticket in
five Lua values (no cdata per call); acquire's token is a small Lua table
(see P.acquire), never handed to C, so that LuaJIT sinks its allocation
where acquire and release meet in one trace.
]]
return function(core, H)
  if type(rawget(_G, "jit")) ~= "table" then return nil end
  local okf, ffi = pcall(require, "ffi")
  if not okf then return nil end
  local function setup()
    local cdef = require("fluxgate.cdef")
    if not pcall(ffi.typeof, "fg_ticket") then ffi.cdef(cdef) end
    if not pcall(ffi.typeof, "fgl_head") then ffi.cdef(core.FFI_CDEF) end
    -- the file Lua loaded core from (whatever loader did it), else package.cpath's
    local tried, C = {}, nil
    local loaded = core.library_path and core.library_path()
    if loaded then
      local ok, lib = pcall(ffi.load, loaded)
      if ok then C = lib else tried[#tried + 1] = "cannot load " .. loaded .. " (" .. tostring(lib) .. ")" end
    end
    if not C then
      local path = package.searchpath and package.searchpath("fluxgate.core", package.cpath)
      if not path then
        tried[#tried + 1] = "fluxgate.core is not on package.cpath (" .. tostring(package.cpath) .. ")"
        return nil, table.concat(tried, "; ")
      end
      C = ffi.load(path)
    end
    -- Resolve every symbol now, so that a missing export disables the path
    -- instead of failing in the middle of a call.
    local _ = C.fgl_breaker_ffi_acquire, C.fgl_breaker_ffi_record
    core.ffi_library = C -- for fluxgate/family_ffi.lua: the same library
    return C
  end
  local okc, C, why = pcall(setup)
  if not (okc and C) then return nil, tostring(okc and why or C) end

  local type, getmetatable, rawget, tonumber, pcall, error, select =
    type, getmetatable, rawget, tonumber, pcall, error, select
  local cast = ffi.cast
  local HeadPtr = ffi.typeof("fgl_head *")
  local setmetatable = setmetatable
  local TokenMT = {} -- acquire's tokens (P.acquire)
  -- The engine is called through two entry points of core.so
  -- (lua/fluxgate_breaker_ffi.c) that take the breaker's userdata and read
  -- its engine pointer themselves, in C, so that no collection step can
  -- fall between the closed check and the call: reading the pointer here
  -- boxes it, and a trace exit materialises sunk allocations; either may
  -- run a collection step, and with it this very breaker's finalizer (one
  -- reachable again through a weak-keyed table), which frees its engine.
  local ffi_acquire, ffi_record = C.fgl_breaker_ffi_acquire, C.fgl_breaker_ffi_record
  local CLOSED_RC = core.FFI_CLOSED
  local NO_CLASS = 2 -- ffi_record: no class given, the engine classifies o
  local outcome = require("fluxgate.outcome")
  local result_status, release_status, error_fields, rejection =
    outcome.result_status, outcome.release_status, outcome.error_fields, outcome.rejection
  local STATES = core.STATES
  local MARK = core.MARK
  local read_clock, drain, misuse_self, closed = H.read_clock, H.drain, H.misuse_self, H.closed

  -- Filled just before each FFI call that reads them; nothing runs in
  -- between (a Lua clock is read first), so one of each serves every call.
  local scratch = ffi.new("fg_ticket")
  local o = ffi.new("fg_outcome")

  -- The breaker's head and class; raises for anything but an open breaker.
  local function head(self, fname)
    local mt = getmetatable(self)
    if type(self) ~= "userdata" or type(mt) ~= "table" or rawget(mt, 1) ~= MARK then misuse_self(self, fname) end
    local p = cast(HeadPtr, self)
    if p.engine == nil then closed(self) end
    return p, mt
  end

  -- A shared breaker's head: also refused while a shared breaker's random
  -- function runs, under that breaker's lock (fgl_refuse_shared in
  -- lua/fluxgate_lua.h says why; the C paths check it there). The module's
  -- count of them is read through a pointer: shared breakers have their own
  -- copy of the methods (shared_methods below), so that a plain breaker's
  -- call does not read it (about 7 instructions a call under callgrind).
  local shared_held = cast("const uint32_t *", core.shared_held())
  local function shared_head(self, fname)
    local p, mt = head(self, fname)
    if shared_held[0] ~= 0 then
      error("fluxgate: shared breakers and families cannot be used from a shared breaker's random function " ..
            "(it runs under that breaker's lock)", 3)
    end
    return p, mt
  end

  -- Admits into scratch; returns whether it did. Drains transitions.
  local function admit(self, p, mt)
    local clock, admitted = rawget(mt, "__clock"), nil
    if clock then
      admitted = ffi_acquire(self, 1, read_clock(clock), scratch)
    else
      admitted = ffi_acquire(self, 0, 0, scratch)
    end
    if admitted == CLOSED_RC then closed(self) end
    return admitted ~= 0
  end

  local function rejected(self, mt)
    local t = scratch
    local retry_after = t.retry_after
    return rejection(rawget(mt, "__breaker_name"), STATES[tonumber(t.state)],
                     retry_after >= 0 and retry_after or nil)
  end

  -- After cb:reload to a definition with Custom() predicates the breaker
  -- takes the classic path, but calls this path admitted may still end
  -- here: their outcome is classified by core.classify, which runs the
  -- predicates (an FFI call cannot run Lua: the engine would count the
  -- outcome as the predicates' error, an untracked one). fluxgate.lua sets
  -- __lua_classify on the classic path's classes.
  local c_classify = core.classify

  -- Records an outcome for ticket t at now (nil: the engine reads its clock);
  -- value: the result or error, for Custom() predicates (see c_classify).
  -- (A closed breaker -- closed meanwhile, by a predicate, by its
  -- finalizer -- records nothing: ffi_record returns CLOSED_RC.)
  local function record_at_now(self, p, t, now, is_error, status, ty, msg, duration, value, lua_classify)
    if lua_classify then
      -- the predicates may use other breakers' FFI paths, which fill
      -- scratch (t): keep the ticket and put it back after
      local st, g, t0, slot, seq = t.state, t.generation, t.started_at, t.slot, t.slot_seq
      local cls = c_classify(self, not is_error, value)
      t.admitted = 1; t.state = st; t.generation = g; t.started_at = t0; t.slot = slot; t.slot_seq = seq
      if ffi_record(self, t, cls, o, duration or -1, now and 1 or 0, now or 0) == CLOSED_RC then return end
      if p.pending ~= 0 then drain(self) end
      return
    end
    o.is_error = is_error and 1 or 0
    if status then o.has_status = 1; o.status = status else o.has_status = 0 end
    -- An error's type and message are both always written, so that the
    -- pointers an earlier record left in o (into strings that may be
    -- collected by now) are never read; the engine reads neither for a
    -- result. Clearing them after the call was not enough: a debug hook
    -- may raise before that, and the next error without a type was
    -- classified by the old one.
    if is_error then
      o.type = ty; o.type_len = ty and #ty or 0
      o.message = msg; o.message_len = msg and #msg or 0
    end
    -- the engine classifies o, and records (at now, else reading its clock)
    if ffi_record(self, t, NO_CLASS, o, duration or -1, now and 1 or 0, now or 0) == CLOSED_RC then return end
    if p.pending ~= 0 then drain(self) end
  end

  -- What this path shares with the families' (fluxgate/family_ffi.lua gets
  -- it as H.ffi): release's checks and outcome, written once.
  local S = {}

  -- release(self, token, ok, value, duration)'s checks: `ours` says
  -- whether token is one of this owner's (its caller knows the token's
  -- shape), duration nil or a number; the misuse error names the owner
  -- ("breaker", "family") and release's caller.
  function S.check_release(ours, token, duration, owner)
    if not ours then
      error(("bad argument #1 to 'release' (a token from this %s's acquire expected, got %s)")
            :format(owner, type(token)), 3)
    end
    if duration ~= nil and type(duration) ~= "number" then
      error(("bad argument #4 to 'release' (number expected, got %s)"):format(type(duration)), 3)
    end
  end

  -- The outcome release(token, ok, value) reports: is_error, status, type,
  -- message.
  function S.release_outcome(ok, value)
    if ok then return false, release_status(value), nil, nil end
    local ty, msg, status = error_fields(value)
    return true, status, ty, msg
  end
  -- The outcome of pcall(fn, ...): a raised error or `nil, e` is an error,
  -- anything else a result (the rule of SPEC 7, written once for the FFI
  -- path: the families' calls use it too). Returns the error value's
  -- position among the results (0: a result).
  function S.failed(ok, r1, r2)
    if not ok then return 1 end
    if r1 == nil and r2 ~= nil then return 2 end
    return 0
  end

  H.ffi = S
  local check_release, release_outcome, failed = S.check_release, S.release_outcome, S.failed

  -- Puts cb:call's ticket back into scratch (after the Lua clock, which
  -- may use another breaker) and records.
  local function settle(self, st, g, t0, slot, seq, is_error, status, ty, msg, value)
    local mt = getmetatable(self)
    local clock, now = rawget(mt, "__clock"), nil
    if clock then now = read_clock(clock) end
    local t = scratch
    t.admitted = 1; t.state = st; t.generation = g; t.started_at = t0; t.slot = slot; t.slot_seq = seq
    record_at_now(self, cast(HeadPtr, self), t, now, is_error, status, ty, msg, nil, value,
                  rawget(mt, "__lua_classify"))
  end


  local function finish(self, st, g, t0, slot, seq, ok, ...)
    local err = failed(ok, ...)
    if err == 0 then
      settle(self, st, g, t0, slot, seq, false, result_status((...)), nil, nil, (...))
      return ...
    end
    local e = select(err, ...)
    local ty, msg, status = error_fields(e)
    settle(self, st, g, t0, slot, seq, true, status, ty, msg, e)
    if not ok then error(e, 0) end
    return ...
  end

  -- Not finish with a nil fallback: that one function cost ~1% more
  -- instructions per failed call under callgrind (~25 of ~2600, 2-3 ns),
  -- successes unchanged; family_ffi.lua keeps its two for the same reason.
  local function finish_fallback(self, fallback, st, g, t0, slot, seq, ok, ...)
    local err = failed(ok, ...)
    if err == 0 then
      settle(self, st, g, t0, slot, seq, false, result_status((...)), nil, nil, (...))
      return ...
    end
    local e = select(err, ...)
    local ty, msg, status = error_fields(e)
    settle(self, st, g, t0, slot, seq, true, status, ty, msg, e)
    return fallback(e)
  end

  -- The methods, reading heads with `head`.
  local function methods(head)
    local P = {}

    -- cb:call(fn, ...) -> fn's results | nil, rejection
    function P.call(self, fn, ...)
      local p, mt = head(self, "call")
      if type(fn) ~= "function" then H.check_callable(fn, 1, "call") end
      local admitted = admit(self, p, mt)
      local t = scratch
      local st, g, t0, slot, seq = t.state, tonumber(t.generation), t.started_at, t.slot, t.slot_seq
      local r = not admitted and rejected(self, mt)
      if p.pending ~= 0 then drain(self) end
      if r then return nil, r end
      return finish(self, st, g, t0, slot, seq, pcall(fn, ...))
    end

    -- cb:call_with_fallback(fn, fallback, ...) -> fn's results | fallback(err)'s
    function P.call_with_fallback(self, fn, fallback, ...)
      local p, mt = head(self, "call_with_fallback")
      if type(fn) ~= "function" then H.check_callable(fn, 1, "call_with_fallback") end
      if type(fallback) ~= "function" then H.check_callable(fallback, 2, "call_with_fallback") end
      local admitted = admit(self, p, mt)
      local t = scratch
      local st, g, t0, slot, seq = t.state, tonumber(t.generation), t.started_at, t.slot, t.slot_seq
      local r = not admitted and rejected(self, mt)
      if p.pending ~= 0 then drain(self) end
      if r then return fallback(r) end
      return finish_fallback(self, fallback, st, g, t0, slot, seq, pcall(fn, ...))
    end

    -- cb:acquire() -> token | nil, rejection. The token is a Lua table
    -- { state, generation, started_at, slot, slot_seq, serial, released }
    -- whose metatable (TokenMT, private) says it is one; it never reaches C
    -- (release copies it into scratch), so where it does not escape the
    -- trace LuaJIT sinks its allocation (a cdata handed to C it cannot).
    -- Generations and serials are below 2^53: exact as numbers.
    function P.acquire(self)
      local p, mt = head(self, "acquire")
      local token, r
      if admit(self, p, mt) then
        local t = scratch
        token = setmetatable({ tonumber(t.state), tonumber(t.generation), t.started_at, t.slot, t.slot_seq,
                               tonumber(p.serial), false }, TokenMT)
      else
        r = rejected(self, mt)
      end
      if p.pending ~= 0 then drain(self) end
      return token, r
    end

    -- cb:release(token, ok, value [, duration]); a second release is a no-op.
    function P.release(self, token, ok, value, duration)
      local p, mt = head(self, "release")
      check_release(getmetatable(token) == TokenMT and token[6] == tonumber(p.serial), token, duration, "breaker")
      if token[7] then return end
      token[7] = true
      local is_error, status, ty, msg = release_outcome(ok, value)
      local clock, now = rawget(mt, "__clock"), nil
      if clock then now = read_clock(clock) end
      local t = scratch
      t.admitted = 1; t.state = token[1]; t.generation = token[2]; t.started_at = token[3]
      t.slot = token[4]; t.slot_seq = token[5]
      record_at_now(self, p, t, now, is_error, status, ty, msg, duration, value, rawget(mt, "__lua_classify"))
    end

    return P
  end

  -- the methods of plain breakers; nil (no reason: the path is on); those of shared breakers
  return methods(head), nil, methods(shared_head)
end
