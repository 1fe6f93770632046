--[[
fluxgate.lua -- the Lua API of fluxgate-c (SPEC.md section 7): require("fluxgate").

The C module fluxgate.core (lua/fluxgate_*.c) moves data to and from the
engine; everything a Lua user sees is decided here and in two helpers,
fluxgate.outcome (reading outcomes from Lua values, the rejection value) and
fluxgate.prometheus (the text exposition):

  * cb:call / cb:call_with_fallback / cb:wrap are written in Lua around the
    two-step protocol (acquire, then release), so the protected function runs
    under Lua's own pcall and may yield (coroutines, OpenResty cosockets).
    On Lua 5.4 cb:call's common case is a per-breaker Lua closure around
    per-breaker C closures (bind_fast below, lua/fluxgate_fast.c).
  * Outcomes are extracted from Lua values once, for both engine paths.
  * Listeners run here, after the engine call that caused the transition has
    returned: the engine only queues transitions (see fluxgate_breaker.c).
  * Under LuaJIT, breakers without Lua callbacks (random, Custom()) run their
    hot path through the FFI, straight into the C functions exported by
    fluxgate/core.so (fluxgate/ffi_path.lua); every other call goes through
    the classic C API.

Argument misuse raises (error(msg, 2)); invalid values give nil, err.
]]
local core = require("fluxgate.core")
local outcome = require("fluxgate.outcome")

local type, error, pcall, tostring, pairs, ipairs = type, error, pcall, tostring, pairs, ipairs
local setmetatable, getmetatable, rawget = setmetatable, getmetatable, rawget
local format = string.format

local c_acquire, c_release, c_release_ok = core.acquire, core.release, core.release_ok
local c_drain = core.drain
local c_info, c_state, c_command = core.info, core.state, core.command
local STATES = core.STATES -- fg_state value -> name (0-based)

local as_status, status_of, error_fields = outcome.as_status, outcome.status_of, outcome.error_fields
local rejection = outcome.rejection

local M = { version = core.version, is_rejection = outcome.is_rejection }

-- Custom() predicates given to fluxgate.register: per Lua state, in this table.
local registered = {}
-- Every live breaker's userdata, for fluxgate.prometheus(). Weak keys: the
-- exposition must never keep a breaker alive.
local live = setmetatable({}, { __mode = "k" })

---------------------------------------------------------------------------
-- errors and reports

-- Reports a callback failure without raising: ngx.log under OpenResty,
-- stderr elsewhere. Looked up at each report, so tests may replace either.
local function report(msg)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.log) == "function" then
    pcall(ngx.log, ngx.ERR, msg)
    return
  end
  local stderr = io and io.stderr
  if stderr then pcall(stderr.write, stderr, msg, "\n") end
end

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- Raises a misuse error; level counts from the function calling misuse.
local function misuse(msg, level) error("fluxgate: " .. msg, level + 1) end

local function check_arg(v, n, fname, want)
  local ok
  if want == "callable" then ok = is_callable(v) else ok = type(v) == want end
  if not ok then
    error(format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, want, type(v)), 3)
  end
end

---------------------------------------------------------------------------
-- the breaker's clock and its transitions

local function read_clock(clock)
  local now = clock()
  if type(now) ~= "number" then
    error("fluxgate: the clock returned a " .. type(now) .. " value, not a number", 0)
  end
  return now
end

local function now_of(self)
  local clock = self._clock
  if clock then return read_clock(clock) end
  return nil
end

-- Hands queued transitions to the listeners and reports parked callback
-- errors. Called after every engine call that left something pending.
local function drain(self)
  local signals, dropped, err = c_drain(self._ud)
  local name = self.name
  if err ~= nil then report(format("fluxgate: breaker '%s': %s", name, tostring(err))) end
  if dropped > 0 then
    report(format("fluxgate: breaker '%s': %d transitions were not delivered", name, dropped))
  end
  local listeners = self._listeners
  for i = 1, #signals do
    local signal = signals[i]
    signal.breaker = name
    for j = 1, #listeners do
      local ok, e = pcall(listeners[j], signal)
      if not ok then
        report(format("fluxgate: breaker '%s': a listener failed: %s", name, tostring(e)))
      end
    end
  end
end

---------------------------------------------------------------------------
-- engine paths. Each path is a pair:
--   enter(self)  -> a, b, c, d, e (the ticket, a ~= nil) | nil, rejection
--   record(self, a, b, c, d, e, is_error, status, type, message, value, duration)

local function classic_enter(self)
  local clock, now = self._clock, nil
  if clock then now = read_clock(clock) end
  local admitted, st, g, t0, slot, seq, pending = c_acquire(self._ud, now)
  if pending ~= 0 then drain(self) end
  if admitted then return st, g, t0, slot, seq end
  return nil, rejection(self.name, STATES[st], g)
end

local function classic_record(self, st, g, t0, slot, seq, is_error, status, ty, msg, value, duration)
  local clock, now = self._clock, nil
  if clock then now = read_clock(clock) end
  if not is_error and duration == nil and not self._custom then
    if c_release_ok(self._ud, now, st, g, t0, slot, seq, status) ~= 0 then drain(self) end
    return
  end
  local facts
  if self._custom then
    -- What Custom() predicates see; built only for breakers that have some.
    facts = { ok = not is_error, status = status, type = ty, message = msg }
    if is_error then facts.error = value else facts.result = value end
  end
  local _, pending = c_release(self._ud, now, st, g, t0, slot, seq, is_error, status, ty, msg,
                               duration, facts)
  if pending ~= 0 then drain(self) end
end

local ffi_enter, ffi_record, ffi_give_back, SharedPtr -- nil unless the FFI is usable
do
  local path = require("fluxgate.ffi_path")(core, read_clock, drain, rejection, STATES)
  if path then
    ffi_enter, ffi_record, ffi_give_back, SharedPtr = path.enter, path.record, path.give_back, path.SharedPtr
  end
end

-- Whether breakers made from now on use the FFI hot path (LuaJIT only).
-- Tests set it to false to exercise the classic path under LuaJIT as well.
M._ffi = ffi_enter ~= nil

---------------------------------------------------------------------------
-- the protected-call API, written once over an engine path

local function protocol(enter, record, recycle)
  local P = {}

  -- Records what a protected call did (pcall's ok and the call's first two
  -- results): a raised error or a `nil, e` return is an error outcome, anything
  -- else a result. Returns whether it failed, and the error value.
  local function record_outcome(self, a, b, c, d, e, ok, r1, r2)
    if ok and not (r1 == nil and r2 ~= nil) then
      local status
      if type(r1) == "table" then status = as_status(r1.status) end
      record(self, a, b, c, d, e, false, status, nil, nil, r1, nil)
      return false, nil
    end
    local err
    if ok then err = r2 else err = r1 end
    local ty, msg, status = error_fields(err)
    record(self, a, b, c, d, e, true, status, ty, msg, err, nil)
    return true, err
  end

  local function settle(self, a, b, c, d, e, ok, ...)
    record_outcome(self, a, b, c, d, e, ok, ...)
    if not ok then error((...), 0) end
    return ...
  end

  local function settle_fallback(self, fallback, a, b, c, d, e, ok, ...)
    local failed, err = record_outcome(self, a, b, c, d, e, ok, ...)
    if failed then return fallback(err) end
    return ...
  end

  P._settle = settle -- for the fast paths' off-path cases
  P._settle_fallback = settle_fallback

  -- cb:call(fn, ...) -> fn's results | nil, rejection
  function P.call(self, fn, ...)
    if type(fn) ~= "function" then check_arg(fn, 1, "call", "callable") end
    local a, b, c, d, e = enter(self)
    if a == nil then return nil, b end
    return settle(self, a, b, c, d, e, pcall(fn, ...))
  end

  -- cb:call_with_fallback(fn, fallback, ...) -> fn's results | fallback(err)'s
  function P.call_with_fallback(self, fn, fallback, ...)
    if type(fn) ~= "function" then check_arg(fn, 1, "call_with_fallback", "callable") end
    if type(fallback) ~= "function" then check_arg(fallback, 2, "call_with_fallback", "callable") end
    local a, b, c, d, e = enter(self)
    if a == nil then return fallback(b) end
    return settle_fallback(self, fallback, a, b, c, d, e, pcall(fn, ...))
  end

  function P.wrap(self, fn, fallback)
    check_arg(fn, 1, "wrap", "callable")
    if fallback == nil then
      return function(...) return self:call(fn, ...) end
    end
    check_arg(fallback, 2, "wrap", "callable")
    return function(...) return self:call_with_fallback(fn, fallback, ...) end
  end

  -- cb:acquire() -> token | nil, rejection. The token is a plain table.
  function P.acquire(self)
    local a, b, c, d, e = enter(self)
    if a == nil then return nil, b end
    return { self, a, b, c, d, e, false } -- [7]: released
  end

  -- cb:release(token, ok, value [, duration]); a second release is a no-op.
  function P.release(self, token, ok, value, duration)
    if type(token) ~= "table" or token[1] ~= self then
      error("bad argument #1 to 'release' (a token from this breaker's acquire expected)", 2)
    end
    if duration ~= nil then check_arg(duration, 4, "release", "number") end
    if token[7] then return end
    token[7] = true
    if ok then
      local status
      if type(value) == "number" then status = as_status(value) else status = status_of(value) end
      record(self, token[2], token[3], token[4], token[5], token[6], false, status, nil, nil,
             value, duration)
    else
      local ty, msg, status = error_fields(value)
      record(self, token[2], token[3], token[4], token[5], token[6], true, status, ty, msg,
             value, duration)
    end
    if recycle then recycle(token) end
  end

  return P
end

---------------------------------------------------------------------------
-- breakers

local methods = {}

function methods.state(self) return c_state(self._ud, now_of(self)) end

function methods.info(self)
  local info = c_info(self._ud, now_of(self))
  return { name = info.name, state = info.state, changed_at = info.changed_at,
           reopens = info.reopens, metrics = info.metrics }
end

local function command(op)
  return function(self)
    if c_command(self._ud, now_of(self), op) ~= 0 then drain(self) end
  end
end
methods.reset = command(0)
methods.disable = command(1)
methods.metrics_only = command(2)
methods.force_open = command(3)

function methods.on_transition(self, fn)
  check_arg(fn, 1, "on_transition", "callable")
  local listeners = self._listeners
  listeners[#listeners + 1] = fn
end

-- A readable listing of this breaker's compiled programs.
function methods.disassemble(self)
  return core.policy_disassemble(self._policy, self._index)
end

-- cb:call specialised per path: the same semantics as protocol's call, with
-- the success path inlined (fewer Lua calls, fewer arguments to C). Errors
-- take the generic settle.
local function classic_fast_call(settle)
  local function finish(self, st, g, t0, slot, seq, ok, ...)
    if ok and not self._custom then
      local r1, r2 = ...
      if r1 ~= nil or r2 == nil then
        local status
        if type(r1) == "table" then status = as_status(r1.status) end
        local clock, now = self._clock, nil
        if clock then now = read_clock(clock) end
        if c_release_ok(self._ud, now, st, g, t0, slot, seq, status) ~= 0 then drain(self) end
        return ...
      end
    end
    return settle(self, st, g, t0, slot, seq, ok, ...)
  end
  return function(self, fn, ...)
    if type(fn) ~= "function" then check_arg(fn, 1, "call", "callable") end
    local clock, now = self._clock, nil
    if clock then now = read_clock(clock) end
    local admitted, st, g, t0, slot, seq, pending = c_acquire(self._ud, now)
    if pending ~= 0 then drain(self) end
    if not admitted then return nil, rejection(self.name, STATES[st], g) end
    return finish(self, st, g, t0, slot, seq, pcall(fn, ...))
  end
end

local function ffi_fast_call(settle)
  local function finish(self, t, ok, ...)
    if ok then
      local r1, r2 = ...
      if r1 ~= nil or r2 == nil then
        local status
        if type(r1) == "table" then status = as_status(r1.status) end
        ffi_record(self, t, nil, nil, nil, nil, false, status, nil, nil, nil, nil)
        ffi_give_back(t) -- nothing else holds it: cb:call made it and is done with it
        return ...
      end
    end
    return settle(self, t, nil, nil, nil, nil, ok, ...)
  end
  return function(self, fn, ...)
    if type(fn) ~= "function" then check_arg(fn, 1, "call", "callable") end
    local t, r = ffi_enter(self)
    if t == nil then return nil, r end
    return finish(self, t, pcall(fn, ...))
  end
end

local function breaker_class(enter, record, fast_call, recycle)
  local cls = {}
  for k, v in pairs(methods) do cls[k] = v end
  local P = protocol(enter, record, recycle)
  for k, v in pairs(P) do cls[k] = v end
  cls.call = fast_call(P._settle)
  cls._settle = P._settle
  cls._settle_fallback = P._settle_fallback
  cls.__index = cls
  cls.__close = function(self) core.close(self._ud) end -- `local cb <close>` on Lua 5.4
  cls.__tostring = function(self) return "fluxgate breaker '" .. self.name .. "'" end
  return cls
end

local Classic = breaker_class(classic_enter, classic_record, classic_fast_call)
-- A released token's ticket cdata serves later calls: the token is marked
-- released, so nothing reads it again.
local Ffi = ffi_enter and breaker_class(ffi_enter, ffi_record, ffi_fast_call, function(token)
  ffi_give_back(token[2])
  token[2] = false
end)

-- The fast path of a classic breaker on Lua 5.4:
-- cb.call and cb.call_with_fallback are Lua closures of the breaker's own,
-- around C closures (lua/fluxgate_fast.c) that acquire and record; cb.acquire
-- and cb.release are the breaker's C closures. All are stored in its table,
-- which also saves the metatable lookup of each method call. What they leave to
-- Lua (errors they cannot read, rejections, listeners, misuse, a method
-- called on another breaker) comes here.
local c_fast = core.fast
-- Whether breakers made from now on get the per-breaker closures (Lua 5.4
-- only). Tests set it to false to compare them with the generic protocol.
M._fast = c_fast ~= nil
local generic_call, generic_call_with_fallback = Classic.call, Classic.call_with_fallback
local classic_settle, classic_settle_fallback = Classic._settle, Classic._settle_fallback

local function fast_reject(self, state, retry_after, pending)
  if pending then drain(self) end
  return nil, rejection(self.name, STATES[state], retry_after)
end

-- Another breaker's method, for cb.acquire(other) and cb.release(other, ...).
local function other_acquire(cb) return cb.acquire(cb) end
local function other_release(cb, ...) return cb.release(cb, ...) end

-- What a release reads in Lua: an error, or a result table with a metatable.
local function release_fields(ok, value)
  if ok then return false, status_of(value) end
  local ty, msg, status = error_fields(value)
  return true, status, ty, msg
end

local function bind_fast(self)
  local function drain_then(...)
    drain(self)
    return ...
  end
  local function drain_raise(e)
    drain(self)
    error(e, 0)
  end
  local function drain_fallback(fallback, e)
    drain(self)
    return fallback(e)
  end
  local enter, finish, finish_fallback
  enter, finish, finish_fallback, self.acquire, self.release =
    c_fast(self._ud, self._clock or nil, self, classic_settle, drain_then, fast_reject,
           other_acquire, other_release, release_fields, drain_raise,
           classic_settle_fallback, drain_fallback)
  -- fn runs under Lua's pcall, here, so it may yield. enter returns nothing
  -- for a call it does not take (another breaker's, a callable that is not a
  -- function, misuse): the generic method does.
  self.call = function(cb, fn, ...)
    local key, g, t0 = enter(cb, fn)
    if not key then
      if g then return nil, g end -- rejected
      return generic_call(cb, fn, ...)
    end
    return finish(key, g, t0, pcall(fn, ...))
  end
  self.call_with_fallback = function(cb, fn, fallback, ...)
    local key, g, t0 = enter(cb, fn, fallback)
    if not key then
      if g then return fallback(g) end -- rejected
      return generic_call_with_fallback(cb, fn, fallback, ...)
    end
    return finish_fallback(key, g, t0, fallback, pcall(fn, ...))
  end
end

local OPTION_FIELDS = { listeners = true, clock = true, random = true, seed = true, custom = true }
local EXPRESSION_FIELDS = { "window", "tracker", "tripper", "retry", "permit" }

-- Checks the Lua types of opts (or of spec's option fields); a misuse is
-- blamed on the caller of the API function that called this.
local function check_options(t, what, allowed)
  for k in pairs(t) do
    if not allowed[k] then misuse(format("unknown field '%s' in %s", tostring(k), what), 3) end
  end
  local function bad(field, want)
    misuse(format("field '%s' of %s must be %s, not %s", field, what, want, type(t[field])), 4)
  end
  if t.clock ~= nil and not is_callable(t.clock) then bad("clock", "a function") end
  if t.random ~= nil and type(t.random) ~= "function" then bad("random", "a function") end
  if t.seed ~= nil then
    local s = t.seed
    if type(s) ~= "number" or s ~= s or s ~= math.floor(s) or s == math.huge or s == -math.huge then
      bad("seed", "an integer")
    end
  end
  if t.listeners ~= nil then
    if type(t.listeners) ~= "table" then bad("listeners", "a table of functions") end
    for _, fn in pairs(t.listeners) do
      if not is_callable(fn) then misuse(format("every listener in %s must be a function", what), 3) end
    end
  end
  if t.custom ~= nil then
    if type(t.custom) ~= "table" then bad("custom", "a table of functions") end
    for name, fn in pairs(t.custom) do
      if type(name) ~= "string" or type(fn) ~= "function" then
        misuse(format("field 'custom' of %s must map names to functions", what), 3)
      end
    end
  end
end

-- Makes a breaker from the index-th definition of a policy userdata.
-- opts has been checked. Returns the breaker, or nil, err.
local function new_breaker(policy, index, opts)
  local clock = opts.clock
  local now = clock and read_clock(clock) or nil
  local names, fns, seen = {}, {}, {}
  if opts.custom then
    for name, fn in pairs(opts.custom) do
      names[#names + 1], fns[#fns + 1], seen[name] = name, fn, true
    end
  end
  for name, fn in pairs(registered) do
    if not seen[name] then names[#names + 1], fns[#fns + 1] = name, fn end
  end
  local ud, uses_custom = core.new_breaker(policy, index, now, opts.random, opts.seed, names, fns)
  if not ud then return nil, uses_custom end
  local listeners = {}
  if opts.listeners then
    for i = 1, #opts.listeners do listeners[i] = opts.listeners[i] end
  end
  -- Absent fields would cost a metatable lookup on every call: store false.
  local self = { name = c_info(ud, now).name, _ud = ud, _clock = clock or false, _custom = uses_custom,
                 _listeners = listeners, _policy = policy, _index = index }
  live[ud] = true
  if Ffi and M._ffi and opts.random == nil and not uses_custom then
    self._q = SharedPtr(core.pointer(ud))
    return setmetatable(self, Ffi)
  end
  setmetatable(self, Classic)
  if c_fast and M._fast then bind_fast(self) end
  return self
end

-- Expression text for a numeric spec field, so that the engine checks it and
-- its errors name the field ("max_half_open_calls:1:1: error: ...").
local function number_text(v)
  if v == math.floor(v) and v > -2^53 and v < 2^53 then return format("%d", v) end
  return format("%.17g", v)
end

-- fluxgate.breaker(name [, spec]) -> breaker | nil, err
function M.breaker(name, spec)
  check_arg(name, 1, "breaker", "string")
  if spec == nil then spec = {} end
  check_arg(spec, 2, "breaker", "table")
  local allowed = { max_half_open_calls = true, half_open_lease = true }
  for k in pairs(OPTION_FIELDS) do allowed[k] = true end
  local exprs = {}
  for i, field in ipairs(EXPRESSION_FIELDS) do
    allowed[field] = true
    local v = spec[field]
    if v ~= nil and type(v) ~= "string" then
      misuse(format("field '%s' of spec must be an expression string, not %s", field, type(v)), 2)
    end
    exprs[i] = v
  end
  check_options(spec, "spec", allowed)
  local max_calls, lease = spec.max_half_open_calls, spec.half_open_lease
  if max_calls ~= nil and type(max_calls) ~= "number" then
    misuse("field 'max_half_open_calls' of spec must be an integer, not " .. type(max_calls), 2)
  end
  if lease ~= nil and type(lease) ~= "number" and type(lease) ~= "string" then
    misuse("field 'half_open_lease' of spec must be a number of seconds, not " .. type(lease), 2)
  end
  if max_calls ~= nil then max_calls = number_text(max_calls) end
  if type(lease) == "number" then lease = number_text(lease) end
  local policy, err = core.from_expressions(name, exprs[1], exprs[2], exprs[3], exprs[4], exprs[5],
                                            max_calls, lease)
  if not policy then return nil, err end
  return new_breaker(policy, 0, spec)
end

-- fluxgate.register(name, fn): a Custom() predicate for breakers made later.
function M.register(name, fn)
  check_arg(name, 1, "register", "string")
  check_arg(fn, 2, "register", "function")
  registered[name] = fn
end

---------------------------------------------------------------------------
-- policies

local Policy = {}
Policy.__index = Policy

local function policy_of(ud, chunk)
  return setmetatable({ _ud = ud, _chunk = chunk }, Policy)
end

-- fluxgate.compile(source [, chunk]) -> policy | nil, err
function M.compile(source, chunk)
  check_arg(source, 1, "compile", "string")
  if chunk ~= nil then check_arg(chunk, 2, "compile", "string") end
  local ud, err = core.compile(source, chunk)
  if not ud then return nil, err end
  return policy_of(ud, chunk or "policy")
end

-- fluxgate.load(path) -> policy | nil, err
function M.load(path)
  check_arg(path, 1, "load", "string")
  local ud, err = core.load(path)
  if not ud then return nil, err end
  return policy_of(ud, path)
end

function Policy:names() return core.policy_names(self._ud) end

-- policy:breaker(name [, opts]) -> breaker | nil, err
function Policy:breaker(name, opts)
  check_arg(name, 1, "breaker", "string")
  if opts == nil then opts = {} end
  check_arg(opts, 2, "breaker", "table")
  check_options(opts, "opts", OPTION_FIELDS)
  local index = core.policy_find(self._ud, name)
  if not index then
    return nil, format("%s: error: no breaker named '%s'", self._chunk, name)
  end
  return new_breaker(self._ud, index, opts)
end

-- policy:disassemble(name) -> the listing of one breaker's programs | nil, err
function Policy:disassemble(name)
  check_arg(name, 1, "disassemble", "string")
  local index = core.policy_find(self._ud, name)
  if not index then return nil, format("%s: error: no breaker named '%s'", self._chunk, name) end
  return core.policy_disassemble(self._ud, index)
end
---------------------------------------------------------------------------
-- Prometheus

local exposition = require("fluxgate.prometheus")

-- fluxgate.prometheus() -> the text exposition of every live breaker.
function M.prometheus() return exposition(live) end

return M
