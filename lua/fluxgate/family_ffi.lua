--[[
fluxgate/family_ffi.lua -- the LuaJIT engine path of families: fam:call,
fam:call_with_fallback, fam:acquire and fam:release in Lua, straight into
fg_family_* through the FFI (as fluxgate/ffi_path.lua does for breakers),
for families without Lua callbacks (a random function, Custom()
predicates: the engine must not call Lua in the middle of an FFI call).

  local methods = require("fluxgate.family_ffi")(core, F)

nil where the FFI is not usable (not LuaJIT, or the breakers' FFI path
is off: see fluxgate.engine_path()). F holds family.lua's helpers.

A family is its userdata: ffi.cast gives its fgl_fam_view (the breakers'
fgl_head, then the engine's fg_family at the offset core.family_cdef()
says). fam:call keeps its ticket in six Lua values (the entry pointer as a
number: user-space addresses are below 2^53), so no cdata per call.
]]
return function(core, F)
  if type(rawget(_G, "jit")) ~= "table" then return nil end
  local okf, ffi = pcall(require, "ffi")
  if not okf then return nil end
  local function setup()
    if not pcall(ffi.typeof, "fg_ticket") then ffi.cdef(require("fluxgate.cdef")) end
    if not pcall(ffi.typeof, "fgl_head") then ffi.cdef(core.FFI_CDEF) end
    if not pcall(ffi.typeof, "fgl_fam_view") then ffi.cdef(core.family_cdef()) end
    local C = core.ffi_library -- fluxgate/ffi_path.lua's: the breakers' FFI path is on
    if not C then return nil end
    local _ = C.fgl_family_ffi_acquire, C.fgl_family_ffi_record
    return C
  end
  local okc, C = pcall(setup)
  if not (okc and C and F.ffi) then return nil end

  local type, getmetatable, rawget, tonumber, pcall, error, select =
    type, getmetatable, rawget, tonumber, pcall, error, select
  local cast, ffi_string, istype = ffi.cast, ffi.string, ffi.istype
  local View, Token = ffi.typeof("fgl_fam_view *"), ffi.typeof("fgl_fam_token")
  local VoidPtr, UIntPtr = ffi.typeof("void *"), ffi.typeof("uintptr_t")
  -- The engine is called through two entry points of core.so
  -- (lua/fluxgate_family_ffi.c) that take the family's userdata and read
  -- its engine pointer themselves, in C: no collection step can fall
  -- between the closed check and the call there. (Checking FGL_CLOSED
  -- here and then calling with the pointer was not enough: a trace exit
  -- in between allocates, and its collection step could run this very
  -- family's finalizer -- one reachable again through a weak-keyed table.)
  local ffi_acquire, ffi_record = C.fgl_family_ffi_acquire, C.fgl_family_ffi_record
  local CLOSED_RC = core.FFI_CLOSED
  local NO_CLASS = 2 -- ffi_record: no class given, the engine classifies *o
  -- After fam:reload to a definition with Custom() predicates the family
  -- takes the classic path, but calls this path admitted may still end
  -- here: their outcome is classified by core.family_classify, which runs
  -- the predicates (an FFI call cannot run Lua: the engine would count the
  -- outcome as the predicates' error, an untracked one). family.lua sets
  -- __lua_classify on such a family's class.
  local c_classify = core.family_classify
  local outcome = require("fluxgate.outcome")
  local result_status, error_fields, rejection =
    outcome.result_status, outcome.error_fields, outcome.rejection
  local STATES = core.STATES
  -- release's checks and outcome, and what makes a call's outcome an error,
  -- are the breakers' FFI path's (ffi_path.lua)
  local check_release, release_outcome, failed = F.ffi.check_release, F.ffi.release_outcome, F.ffi.failed
  local drain, read_clock, key_of, is_family, misuse_self, closed =
    F.drain, F.read_clock, F.key_of, F.is_family, F.misuse_self, F.closed

  local scratch = ffi.new("fg_family_ticket")
  local o = ffi.new("fg_outcome")
  local ERR_CAP = 256
  local errbuf = ffi.new("char[?]", ERR_CAP)

  local band, CLOSED = require("bit").band, core.FLAG_CLOSED

  local function view(self, fname)
    if not is_family(self) then misuse_self(self, fname) end
    local p = cast(View, self)
    if p.family == nil then closed(self) end
    return p
  end

  -- Admits the key into scratch: 1 admitted, 0 rejected, -1 not made (errbuf).
  local function admit(self, p, key)
    local clock = rawget(getmetatable(self), "__clock")
    local rc
    if clock then
      local now = read_clock(clock)
      p.head.now = now -- what the engine's clock callback returns
      rc = ffi_acquire(self, key, #key, 1, now, scratch, errbuf, ERR_CAP)
    else
      rc = ffi_acquire(self, key, #key, 0, 0, scratch, errbuf, ERR_CAP)
    end
    if rc == CLOSED_RC then closed(self) end
    return rc
  end

  local function rejected(self, key)
    local t = scratch.ticket
    local retry_after = t.retry_after
    local r = rejection(rawget(getmetatable(self), "__family_name"), STATES[tonumber(t.state)],
                        retry_after >= 0 and retry_after or nil)
    r.key = key
    return r
  end

  local function record_now(self, p, t, now, is_error, status, ty, msg, duration, cls)
    if now then p.head.now = now end -- what the engine's clock callback returns
    if not cls then
      o.is_error = is_error and 1 or 0
      if status then o.has_status = 1; o.status = status else o.has_status = 0 end
      if is_error then -- both always written: see ffi_path.lua's record_at_now
        o.type = ty; o.type_len = ty and #ty or 0
        o.message = msg; o.message_len = msg and #msg or 0
      end
    end
    -- closed meanwhile (by a predicate, a finalizer): nothing recorded
    if ffi_record(self, t, cls or NO_CLASS, o, duration or -1, now and 1 or 0, now or 0) == CLOSED_RC then return end
    if p.head.pending ~= 0 then drain(self) end
  end

  local function settle(self, st, g, t0, slot, seq, e, is_error, status, ty, msg, value)
    local mt = getmetatable(self)
    local clock, now = rawget(mt, "__clock"), nil
    if clock then now = read_clock(clock) end
    local p = cast(View, self)
    local cls
    if rawget(mt, "__lua_classify") and band(p.head.flags, CLOSED) == 0 then cls = c_classify(self, not is_error, value) end
    local s = scratch
    local t = s.ticket
    t.admitted = 1; t.state = st; t.generation = g; t.started_at = t0; t.slot = slot; t.slot_seq = seq
    s.entry = cast(VoidPtr, e)
    record_now(self, p, s, now, is_error, status, ty, msg, nil, cls)
  end

  local function finish(self, st, g, t0, slot, seq, e, ok, ...)
    local err = failed(ok, ...)
    if err == 0 then
      local status = result_status((...))
      settle(self, st, g, t0, slot, seq, e, false, status, nil, nil, (...))
      return ...
    end
    local v = select(err, ...)
    local ty, msg, status = error_fields(v)
    settle(self, st, g, t0, slot, seq, e, true, status, ty, msg, v)
    if not ok then error(v, 0) end
    return ...
  end

  local function finish_fallback(self, fallback, st, g, t0, slot, seq, e, ok, ...)
    local err = failed(ok, ...)
    if err == 0 then
      local status = result_status((...))
      settle(self, st, g, t0, slot, seq, e, false, status, nil, nil, (...))
      return ...
    end
    local v = select(err, ...)
    local ty, msg, status = error_fields(v)
    settle(self, st, g, t0, slot, seq, e, true, status, ty, msg, v)
    return fallback(v)
  end

  local P = {}

  function P.call(self, key, fn, ...)
    local p = view(self, "call")
    if type(key) ~= "string" then key = key_of(key, "call") end
    if type(fn) ~= "function" then F.check_callable(fn, 2, "call") end
    local rc = admit(self, p, key)
    local r
    if rc < 0 then r = ffi_string(errbuf) elseif rc == 0 then r = rejected(self, key) end
    local t = scratch.ticket
    local st, g, t0, slot, seq = t.state, tonumber(t.generation), t.started_at, t.slot, t.slot_seq
    local e = tonumber(cast(UIntPtr, scratch.entry))
    if p.head.pending ~= 0 then drain(self) end
    if r then return nil, r end
    return finish(self, st, g, t0, slot, seq, e, pcall(fn, ...))
  end

  function P.call_with_fallback(self, key, fn, fallback, ...)
    local p = view(self, "call_with_fallback")
    if type(key) ~= "string" then key = key_of(key, "call_with_fallback") end
    if type(fn) ~= "function" then F.check_callable(fn, 2, "call_with_fallback") end
    if type(fallback) ~= "function" then F.check_callable(fallback, 3, "call_with_fallback") end
    local rc = admit(self, p, key)
    local r
    if rc < 0 then r = ffi_string(errbuf) elseif rc == 0 then r = rejected(self, key) end
    local t = scratch.ticket
    local st, g, t0, slot, seq = t.state, tonumber(t.generation), t.started_at, t.slot, t.slot_seq
    local e = tonumber(cast(UIntPtr, scratch.entry))
    if p.head.pending ~= 0 then drain(self) end
    if r then return fallback(r) end
    return finish_fallback(self, fallback, st, g, t0, slot, seq, e, pcall(fn, ...))
  end

  -- fam:acquire(key) -> token | nil, rejection | nil, err (full)
  function P.acquire(self, key)
    local p = view(self, "acquire")
    if type(key) ~= "string" then key = key_of(key, "acquire") end
    local rc = admit(self, p, key)
    local token, r
    if rc > 0 then
      token = Token()
      token.ticket = scratch
      token.serial = p.head.serial
    elseif rc == 0 then
      r = rejected(self, key)
    else
      r = ffi_string(errbuf)
    end
    if p.head.pending ~= 0 then drain(self) end
    return token, r
  end

  function P.release(self, token, ok, value, duration)
    local p = view(self, "release")
    check_release(istype(Token, token) and token.serial == p.head.serial, token, duration, "family")
    if token.released ~= 0 then return end
    token.released = 1
    local is_error, status, ty, msg = release_outcome(ok, value)
    local clock, now = rawget(getmetatable(self), "__clock"), nil
    if clock then now = read_clock(clock) end
    local cls
    if rawget(getmetatable(self), "__lua_classify") then cls = c_classify(self, ok, value) end
    record_now(self, p, token.ticket, now, is_error, status, ty, msg, duration, cls)
  end

  return P
end
