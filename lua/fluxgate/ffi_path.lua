--[[
fluxgate/ffi_path.lua -- the engine path of fluxgate.lua under LuaJIT: the hot
path (acquire, classify + record) straight into the C functions that
fluxgate/core.so exports, through the FFI, for breakers without Lua callbacks
(random, Custom()): the engine must not call back into Lua in the middle of
an FFI call.

  local path = require("fluxgate.ffi_path")(core, read_clock, drain, rejection, STATES)

path is nil where the FFI is not usable (not LuaJIT, no ffi module, core.so
not found on package.cpath or missing an export), else a table:
  enter(self)  -> ticket cdata | nil, rejection
  record(self, ticket, _, _, _, _, is_error, status, type, message, _, duration)
  give_back(ticket)   a ticket no one holds any more, for a later call
  SharedPtr           the ctype of the breaker's shared struct pointer
(the shapes of fluxgate.lua's engine paths). The arguments are fluxgate.lua's
own helpers, so that both paths read clocks, drain transitions and reject
alike.
]]
return function(core, read_clock, drain, rejection, STATES)
  if type(rawget(_G, "jit")) ~= "table" then return nil end
  local ok, ffi = pcall(require, "ffi")
  local function setup()
    local cdef = require("fluxgate.cdef")
    if not pcall(ffi.typeof, "fg_ticket") then ffi.cdef(cdef) end
    if not pcall(ffi.typeof, "fgl_shared") then ffi.cdef(core.SHARED_CDEF) end
    local path = package.searchpath and package.searchpath("fluxgate.core", package.cpath)
    if not path then return nil end
    local C = ffi.load(path)
    -- Resolve every symbol now, so that a missing export disables the path
    -- instead of failing in the middle of a call.
    local _ = C.fg_breaker_acquire, C.fg_breaker_acquire_at, C.fg_breaker_classify,
              C.fg_breaker_record, C.fg_breaker_record_at, C.fg_breaker_release
    return C
  end
  local okc, C = false, nil
  if ok then okc, C = pcall(setup) end
  if not (okc and C) then return nil end
  local Ticket = ffi.typeof("fg_ticket")
  local scratch = ffi.new("fg_outcome") -- read only during classify
  local SharedPtr = ffi.typeof("fgl_shared *")
  local acquire, acquire_at = C.fg_breaker_acquire, C.fg_breaker_acquire_at
  local classify, record_at, release = C.fg_breaker_classify, C.fg_breaker_record_at,
                                       C.fg_breaker_release
  local tonumber = tonumber

  -- Tickets that finished calls gave back (ffi_give_back), for the next
  -- ones: a ticket cdata per call would be the path's only allocation.
  -- Shared by all breakers (a ticket is plain data, filled by acquire).
  local spare, nspare = {}, 0
  local function ffi_give_back(t)
    if nspare < 64 then
      nspare = nspare + 1
      spare[nspare] = t
    end
  end

  local function ffi_enter(self)
    local q = self._q
    local b = q.breaker
    if b == nil then error("fluxgate: the breaker is closed", 0) end
    local t
    if nspare > 0 then
      t = spare[nspare]
      spare[nspare] = nil
      nspare = nspare - 1
    else
      t = Ticket()
    end
    local clock, admitted = self._clock, nil
    if clock then
      local now = read_clock(clock)
      q.now = now
      admitted = acquire_at(b, now, t)
    else
      admitted = acquire(b, t)
    end
    if q.count ~= 0 then drain(self) end
    if admitted ~= 0 then return t end
    local retry_after, state = t.retry_after, tonumber(t.state)
    ffi_give_back(t)
    return nil, rejection(self.name, STATES[state], retry_after >= 0 and retry_after or nil)
  end

  local istype = ffi.istype
  local function ffi_record(self, t, _, _, _, _, is_error, status, ty, msg, _, duration)
    if not istype(Ticket, t) then -- a forged token: the engine would read through it
      error("bad argument #1 to 'release' (a token from this breaker's acquire expected)", 3)
    end
    local clock, now = self._clock, nil
    if clock then now = read_clock(clock) end
    local q = self._q
    local b = q.breaker
    if b == nil then error("fluxgate: the breaker is closed", 0) end
    local o = scratch
    o.is_error = is_error and 1 or 0
    if status then o.has_status = 1; o.status = status else o.has_status = 0 end
    if ty then o.type = ty; o.type_len = #ty else o.type = nil; o.type_len = 0 end
    if msg then o.message = msg; o.message_len = #msg else o.message = nil; o.message_len = 0 end
    if now then
      local class = classify(b, o)
      q.now = now
      record_at(b, t, class, duration or -1, now)
    else
      release(b, t, o, duration or -1) -- classify + record in one FFI call
    end
    o.type = nil -- the strings may be collected once this returns
    o.message = nil
    if q.count ~= 0 then drain(self) end
  end

  return { enter = ffi_enter, record = ffi_record, give_back = ffi_give_back, SharedPtr = SharedPtr }
end
