--[[
fluxgate.lua -- the Lua API of fluxgate-c (SPEC.md section 7): require("fluxgate").

A breaker is one userdata (lua/fluxgate_breaker.c) whose memory holds the
engine's breaker; its metatable is its class, shared by every breaker of
one definition, Lua clock and engine path: the methods, `name`, the clock.
What a breaker alone has (listeners, a random function, Custom()
predicates) lives in its user value, only when it has some.

The engine paths:
  * Lua 5.4: cb:call, cb:call_with_fallback, cb:acquire and cb:release are
    C functions of fluxgate.core (lua/fluxgate_call.c); fn runs under
    lua_pcallk, so it may yield.
  * LuaJIT: breakers without Lua callbacks take the FFI
    (lua/fluxgate/ffi_path.lua); the others the classic C functions through
    the small Lua cb:call of lua/fluxgate/classic_path.lua (the engine must
    not call Lua during an FFI call).
Listeners run in the drain (lua/fluxgate/delivery.lua), after the engine
call that caused the transition has returned, each transition once and in
sequence order.

Argument misuse raises (error(msg, 2)); invalid values give nil, err.
]]
-- The 5.1 tree's core.so is built for LuaJIT: PUC Lua 5.1 (Debian's `lua`, whose
-- package.path includes that tree) cannot load it, and would only say
-- "undefined symbol: luaL_setfuncs".
if _VERSION == "Lua 5.1" and type(rawget(_G, "jit")) ~= "table" then
  error("fluxgate needs Lua 5.4 or LuaJIT 2.1, and this is PUC Lua 5.1"
        .. " (Debian's `lua` is 5.1: run lua5.4 or luajit)", 2)
end
local core = require("fluxgate.core")
local outcome = require("fluxgate.outcome")

local type, error, pcall, tostring, tonumber, pairs, ipairs =
  type, error, pcall, tostring, tonumber, pairs, ipairs
local setmetatable, getmetatable, rawget = setmetatable, getmetatable, rawget
local format, floor, huge = string.format, math.floor, math.huge

local STATES, MARK = core.STATES, core.MARK
local c_env, c_drain, c_close = core.env, core.drain, core.close
local WEAK_V = { __mode = "v" }

local M = { version = core.version, is_rejection = outcome.is_rejection }

-- Custom() predicates given to fluxgate.register: per Lua state, in this table.
local registered = {}

---------------------------------------------------------------------------
-- errors and reports

-- Writes msg without raising: ngx.log at ngx[level] ("ERR", "NOTICE") under
-- OpenResty, stderr elsewhere. Looked up at each message, so tests may
-- replace either.
local function log(level, msg)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.log) == "function" then
    pcall(ngx.log, ngx[level], msg)
    return
  end
  local stderr = io and io.stderr
  if stderr then pcall(stderr.write, stderr, msg, "\n") end
end

-- Reports a callback failure (an error).
local function report(msg) log("ERR", msg) end

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
    if want == "callable" then want = "function" end
    error(format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, want, type(v)), 3)
  end
end

local function name_of(self)
  local mt = getmetatable(self)
  return mt and rawget(mt, "__breaker_name") or "?"
end

local H = {} -- the helpers the engine paths share

function H.check_callable(v, n, fname)
  if not is_callable(v) then
    error(format("bad argument #%d to '%s' (function expected, got %s)", n, fname, type(v)), 3)
  end
end

function H.misuse_self(v, fname)
  error(format("bad self to '%s' (a fluxgate breaker expected, got %s): call it as cb:%s(...), not cb.%s(...)",
               fname, type(v), fname, fname), 3)
end

function H.closed(self) error(format("fluxgate: breaker '%s' is closed", name_of(self)), 3) end

function H.read_clock(clock)
  local now = clock()
  if type(now) ~= "number" then
    error("fluxgate: the clock returned a " .. type(now) .. " value, not a number", 0)
  end
  return now
end

---------------------------------------------------------------------------
-- transitions, delivered to listeners (fluxgate/delivery.lua)

local delivery = require("fluxgate.delivery")(report)
H.make_drain, H.add_listener = delivery.make_drain, delivery.add_listener
local drain = H.make_drain("breaker", name_of, c_drain, c_env)
H.drain = drain

core.init(outcome.rejection, drain)

---------------------------------------------------------------------------
-- methods every engine path shares

local common = {}

function common.state(self)
  local s, pending = core.state(self)
  if pending then drain(self) end
  return s
end

-- cb:info() -> SPEC 7's fields, the counters, consecutive_failures,
-- generation, half_open_in_flight, transitions and the clock in use.
function common.info(self)
  local info, pending = core.info(self)
  if pending then drain(self) end
  return info
end

local function command(op)
  return function(self)
    if core.command(self, op) then drain(self) end
  end
end
common.reset = command(0)
common.disable = command(1)
common.metrics_only = command(2)
common.force_open = command(3)

-- cb:snapshot() -> string; cb:restore(s) -> true | nil, err (SPEC 10)
common.snapshot, common.restore = core.snapshot, core.restore

function common.on_transition(self, fn)
  if type(getmetatable(self)) ~= "table" or rawget(getmetatable(self), 1) ~= MARK then
    H.misuse_self(self, "on_transition")
  end
  check_arg(fn, 1, "on_transition", "callable")
  core.listen(self) -- the engine queues transitions only for breakers with listeners
  H.add_listener(c_env(self, true), fn)
end

-- cb:close(): frees the engine's breaker now (idempotent; also __close and
-- __gc). Its counters stay in its name's Prometheus totals.
common.close = c_close

-- A readable listing of this breaker's compiled programs.
function common.disassemble(self)
  local mt = getmetatable(self)
  return core.policy_disassemble(rawget(mt, "__policy"), rawget(mt, "__def"))
end

function common.wrap(self, fn, fallback)
  check_arg(fn, 1, "wrap", "callable")
  if fallback == nil then
    return function(...) return self:call(fn, ...) end
  end
  check_arg(fallback, 2, "wrap", "callable")
  return function(...) return self:call_with_fallback(fn, fallback, ...) end
end

-- The methods of one engine path: the shared ones, then the path's own.
function H.methods_with(shared_methods, path)
  local m = {}
  for k, v in pairs(shared_methods) do m[k] = v end
  for k, v in pairs(path) do m[k] = v end
  return m
end
local function methods_with(path) return H.methods_with(common, path) end

---------------------------------------------------------------------------
-- the engine paths

local classic_path = require("fluxgate.classic_path")(core, H, methods_with, is_callable)
local Classic = classic_path.Classic -- the classic C API's methods
H.make_finish, H.make_release, H.cross_release =
  classic_path.make_finish, classic_path.make_release, classic_path.cross_release
local ffi_methods, ffi_why, ffi_shared_methods = require("fluxgate.ffi_path")(core, H)
local Ffi = ffi_methods and methods_with(ffi_methods)
H.cross_release(Ffi, Classic, "table")
-- shared breakers' (a shared breaker never changes path: it cannot be reloaded)
local FfiShared = ffi_shared_methods and methods_with(ffi_shared_methods)

-- fluxgate.engine_path() -> "ffi" (LuaJIT through the FFI) or "classic"
-- (the Lua C API: always on Lua 5.4). Under LuaJIT without the FFI path
-- calls are several times slower: say so once, on stderr, and how to fix it.
function M.engine_path() return Ffi and "ffi" or "classic" end
if ffi_why and type(rawget(_G, "jit")) == "table" then
  local stderr = io and io.stderr
  if stderr then
    pcall(stderr.write, stderr, "fluxgate: LuaJIT detected, but the FFI path is off (calls are several times slower): ",
          ffi_why, ". Put fluxgate/core.so on package.cpath (e.g. package.cpath = \"<dir>/?.so;\" .. package.cpath",
          " with <dir>/fluxgate/core.so) before require(\"fluxgate\").\n")
  end
end

-- Which path breakers made from now on take (tests switch the FFI off to
-- compare the paths, through package.loaded["fluxgate.paths"] below).
local use = { ffi = Ffi ~= nil }

---------------------------------------------------------------------------
-- classes: one metatable per definition, Lua clock and path, shared

-- classes[policy][index][clock or NO_CLOCK][methods] = class. The last two
-- levels are weak (by clock; and by value: a class lives as long as some
-- breaker has it), so nothing here keeps a breaker, clock or policy alive.
local classes = setmetatable({}, { __mode = "k" })
local NO_CLOCK = {}

local function tostring_breaker(self) return "fluxgate breaker '" .. name_of(self) .. "'" end

-- A class's __index: `name` and a copy of the methods, so that cb:call or
-- cb:acquire (fam:call...) is found by one table lookup, not through a second __index
-- (on Lua 5.4 that chain cost about a fifth of acquire + release); its
-- metatable's __index is the methods table itself (reload reads it there).
-- Shared by the classes of one name and path (indexes[methods][name]),
-- weakly: it lives as long as a class has it.
local indexes = setmetatable({}, { __mode = "k" })

local function index_of(methods, name)
  local by_name = indexes[methods]
  if not by_name then by_name = setmetatable({}, WEAK_V); indexes[methods] = by_name end
  local index = by_name[name]
  if index then return index end
  index = { name = name }
  for k, v in pairs(methods) do index[k] = v end
  setmetatable(index, { __index = methods })
  by_name[name] = index
  return index
end
H.index_of = index_of -- families' classes too (fluxgate/family.lua)

local function class_of(methods, policy, index, name, clock)
  local by_index = classes[policy]
  if not by_index then by_index = {}; classes[policy] = by_index end
  local by_clock = by_index[index]
  if not by_clock then by_clock = setmetatable({}, { __mode = "k" }); by_index[index] = by_clock end
  local key = clock or NO_CLOCK
  local by_methods = by_clock[key]
  if not by_methods then by_methods = setmetatable({}, WEAK_V); by_clock[key] = by_methods end
  local class = by_methods[methods]
  if class then return class end
  class = {
    MARK, -- [1]: what tells a breaker (see fgl_class_mark)
    __index = index_of(methods, name),
    __gc = c_close, __close = c_close, __tostring = tostring_breaker,
    __breaker_name = name, __clock = clock, __policy = policy, __def = index,
    -- on the classic path under LuaJIT, calls the FFI path admitted before
    -- a reload to Custom() predicates are classified through Lua
    -- (fluxgate/ffi_path.lua: an FFI record cannot run them)
    __lua_classify = (Ffi ~= nil and methods == Classic) or nil,
  }
  by_methods[methods] = class
  return class
end

---------------------------------------------------------------------------
-- making breakers

local OPTION_FIELDS = { listeners = true, clock = true, random = true, seed = true, custom = true }
local EXPRESSION_FIELDS = { "window", "tracker", "tripper", "retry", "permit" }
local CLOCK_KINDS = { precise = 1, coarse = 2 }

local function has_nul(s) return s:find("\0", 1, true) end

-- The seed as the C API's uint64, in two 32-bit halves; nil, why when it
-- is not an integer the C API takes.
local seed_halves
do
  local ok_ffi, ffi = false, nil
  if rawget(_G, "jit") then ok_ffi, ffi = pcall(require, "ffi") end
  local TWO32 = 4294967296
  -- Lua 5.4's integers, two's complement as the C API's uint64 (loaded as
  -- text: LuaJIT cannot parse the operators)
  local split_integer = math.type and load("return function(s) return (s >> 32) & 0xffffffff, s & 0xffffffff end")()
  seed_halves = function(s)
    if ok_ffi and type(s) == "cdata" then
      if not (ffi.istype("int64_t", s) or ffi.istype("uint64_t", s)) then return nil end
      local u = ffi.cast("uint64_t", s)
      return tonumber(u / TWO32), tonumber(u % TWO32)
    end
    if type(s) ~= "number" or s ~= s or s == huge or s == -huge or s ~= floor(s) then return nil end
    if s >= 18446744073709551616 or s < -9223372036854775808 then return nil, "out of range" end
    if split_integer and math.type(s) == "integer" then return split_integer(s) end
    -- a float: exact, since it is integral; negative ones wrap as int64 does
    if ok_ffi then
      local u = s < 0 and ffi.cast("uint64_t", ffi.cast("int64_t", s)) or ffi.cast("uint64_t", s)
      return tonumber(u / TWO32), tonumber(u % TWO32)
    end
    if s < 0 then s = s + 18446744073709551616 end -- exact for |s| >= 2^53 only; smaller are integers
    local hi = floor(s / TWO32)
    return hi, s - hi * TWO32
  end
end

-- Checks the Lua types of opts (or of spec's option fields); a misuse is
-- blamed on the caller of the API function that called this.
local function check_options(t, what, allowed)
  for k in pairs(t) do
    if not allowed[k] then misuse(format("unknown field '%s' in %s", tostring(k), what), 3) end
  end
  local function bad(field, want)
    misuse(format("field '%s' of %s must be %s, not %s", field, what, want, type(t[field])), 4)
  end
  local clock = t.clock
  if clock ~= nil and not is_callable(clock) then
    if type(clock) ~= "string" then bad("clock", 'a function, "coarse" or "precise"') end
    if not CLOCK_KINDS[clock] then
      misuse(format("field 'clock' of %s must be a function, \"coarse\" or \"precise\", not %q", what, clock), 3)
    end
  end
  if t.random ~= nil and type(t.random) ~= "function" then bad("random", "a function") end
  if t.seed ~= nil then
    local hi, why = seed_halves(t.seed)
    if hi == nil then
      if why then misuse(format("field 'seed' of %s is out of range (the seed is a 64-bit integer)", what), 3) end
      bad("seed", "an integer")
    end
  end
  if t.listeners ~= nil then
    local ls = t.listeners
    if type(ls) ~= "table" then bad("listeners", "an array of functions") end
    local n = 0
    for k, fn in pairs(ls) do
      n = n + 1
      if type(k) ~= "number" or k ~= floor(k) or k < 1 or k > #ls then
        misuse(format("field 'listeners' of %s must be an array of functions (found key %s)", what, tostring(k)), 3)
      end
      if not is_callable(fn) then misuse(format("every listener in %s must be a function", what), 3) end
    end
    if n ~= #ls then misuse(format("field 'listeners' of %s must be an array without holes", what), 3) end
  end
  if t.custom ~= nil then
    if type(t.custom) ~= "table" then bad("custom", "a table of functions") end
    for name, fn in pairs(t.custom) do
      if type(name) ~= "string" or type(fn) ~= "function" then
        misuse(format("field 'custom' of %s must map names to functions", what), 3)
      end
      -- the C side would cut the name at the NUL: "x\0y" would answer Custom("x")
      if has_nul(name) then misuse(format("field 'custom' of %s has a name with a NUL byte", what), 3) end
    end
  end
end

-- What making a breaker or a family takes from opts (checked), as the C
-- side reads it: the clock (a named one's kind; a Lua clock's first
-- reading), the random function and seed, the Custom() predicates (opts'
-- own, then fluxgate.register's) and a copy of the listeners. Returns the
-- arguments and the Lua clock (nil for a named one).
local function creation_args(opts)
  local clock, clock_kind = opts.clock, 0
  if type(clock) == "string" then clock_kind, clock = CLOCK_KINDS[clock], nil end
  local args = { clock_kind = clock_kind, random = opts.random }
  if clock then args.now = H.read_clock(clock) end
  if opts.seed ~= nil then args.seed_hi, args.seed_lo = seed_halves(opts.seed) end
  local custom, seen = {}, {}
  if opts.custom then
    for n, fn in pairs(opts.custom) do
      custom[#custom + 1], custom[#custom + 2], seen[n] = n, fn, true
    end
  end
  for n, fn in pairs(registered) do
    if not seen[n] then custom[#custom + 1], custom[#custom + 2] = n, fn end
  end
  if #custom > 0 then args.custom = custom end
  if opts.listeners and #opts.listeners > 0 then
    local listeners = {}
    for i = 1, #opts.listeners do listeners[i] = opts.listeners[i] end
    args.listeners = listeners
  end
  return args, clock
end

-- Makes a breaker from the index-th definition of a policy userdata.
-- opts has been checked. Returns the breaker, or nil, err.
-- shared: a shared map (fluxgate/shared.lua): the block is the map's, and
-- a second result says "attached", "created" or "replaced".
-- family: { shared family userdata, key } (fluxgate/shared_family.lua):
-- the block is that key's, in the family's table of the map `shared`.
local function new_breaker(policy, index, name, opts, shared, family)
  local args, clock = creation_args(opts)
  args.shared = shared
  if family then args.family, args.key = family[1], family[2] end
  local use_ffi = Ffi ~= nil and use.ffi and opts.random == nil
  local ffi_methods = shared and FfiShared or Ffi
  local cb, uses_custom, status = core.new_breaker(policy, index, class_of(use_ffi and ffi_methods or Classic, policy, index, name, clock), args)
  if not cb then return nil, uses_custom end
  if use_ffi and uses_custom then core.set_class(cb, class_of(Classic, policy, index, name, clock)) end
  if shared then return cb, status end
  return cb
end

-- Expression text for a numeric spec field, so that the engine checks it and
-- its errors name the field ("max_half_open_calls:1:1: error: ..."); nil,
-- err for a value no expression can spell.
local function number_text(field, v)
  if v ~= v or v == huge or v == -huge then
    -- "nan" whatever its sign bit (0/0 prints "-nan" on x86 under Lua 5.4)
    return nil, format("%s:1:1: error: expected a finite number, got %s", field, v ~= v and "nan" or tostring(v))
  end
  if v == floor(v) and v > -2^53 and v < 2^53 then return format("%d", v) end
  return format("%.17g", v)
end

-- nil, err for a string with a NUL byte (the engine reads C strings: it
-- would silently see only what precedes it).
local function nul_error(what, s)
  local at = has_nul(s)
  if at then return format("%s:1:%d: error: NUL byte in %s", what, at, what == "name" and "the breaker name" or "the expression") end
  return nil
end

-- fluxgate.breaker(name [, spec]) -> breaker | nil, err
function M.breaker(name, spec)
  check_arg(name, 1, "breaker", "string")
  if spec == nil then spec = {} end
  check_arg(spec, 2, "breaker", "table")
  local e = nul_error("name", name)
  if e then return nil, e end
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
  local err
  if max_calls ~= nil then max_calls, err = number_text("max_half_open_calls", max_calls) end
  if err then return nil, err end
  if type(lease) == "number" then lease, err = number_text("half_open_lease", lease) end
  if err then return nil, err end
  for i, field in ipairs(EXPRESSION_FIELDS) do
    e = exprs[i] and nul_error(field, exprs[i])
    if e then return nil, e end
  end
  e = type(lease) == "string" and nul_error("half_open_lease", lease)
  if e then return nil, e end
  local policy
  policy, err = core.from_expressions(name, exprs[1], exprs[2], exprs[3], exprs[4], exprs[5], max_calls, lease)
  if not policy then return nil, err end
  return new_breaker(policy, 0, name, spec)
end

-- fluxgate.register(name, fn): a Custom() predicate for breakers made later.
function M.register(name, fn)
  check_arg(name, 1, "register", "string")
  check_arg(fn, 2, "register", "function")
  -- the C side would cut the name at the NUL: "x\0y" would answer Custom("x")
  if has_nul(name) then error("bad argument #1 to 'register' (a name without NUL bytes expected)", 2) end
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

-- The index of a definition, or nil, err listing the names there are.
local function find(self, name)
  local e = nul_error("name", name)
  if e then return nil, e end
  local index = core.policy_find(self._ud, name)
  if index then return index end
  local names = core.policy_names(self._ud)
  for i = 1, #names do names[i] = "'" .. names[i] .. "'" end
  local there = #names > 0 and "; it defines " .. table.concat(names, ", ") or "; it defines no breakers"
  return nil, format("%s: error: no breaker named '%s'%s", self._chunk, name, there)
end

-- policy:breaker(name [, opts]) -> breaker | nil, err
function Policy:breaker(name, opts)
  check_arg(name, 1, "breaker", "string")
  if opts == nil then opts = {} end
  check_arg(opts, 2, "breaker", "table")
  check_options(opts, "opts", OPTION_FIELDS)
  local index, err = find(self, name)
  if not index then return nil, err end
  return new_breaker(self._ud, index, name, opts)
end

-- cb:reload(policy [, name]) -> true | nil, err: switches the breaker to
-- the definition `name` of policy (default: the breaker's own name), keeping
-- its state (fluxgate.h, fg_breaker_reload); the breaker's class follows
-- the definition (name, disassembly; the classic path when it needs Custom()
-- predicates). Custom() names resolve against the predicates the breaker
-- was made with.
local function reload(self, policy, name)
  local mt = getmetatable(self)
  if type(mt) ~= "table" or rawget(mt, 1) ~= MARK then H.misuse_self(self, "reload") end
  if getmetatable(policy) ~= Policy then
    error(format("bad argument #1 to 'reload' (a fluxgate policy expected, got %s)", type(policy)), 2)
  end
  if name == nil then name = rawget(mt, "__breaker_name") end
  check_arg(name, 2, "reload", "string")
  local index, err = find(policy, name)
  if not index then return nil, err end
  local ok, uses_custom = core.reload(self, policy._ud, index)
  if not ok then return nil, uses_custom end
  local methods = getmetatable(rawget(mt, "__index")).__index
  if uses_custom then methods = Classic end
  core.set_class(self, class_of(methods, policy._ud, index, name, rawget(mt, "__clock")))
  return true
end
Classic.reload = reload
if Ffi then Ffi.reload, FfiShared.reload = reload, reload end

-- policy:disassemble(name) -> the listing of one breaker's programs | nil, err
function Policy:disassemble(name)
  check_arg(name, 1, "disassemble", "string")
  local index, err = find(self, name)
  if not index then return nil, err end
  return core.policy_disassemble(self._ud, index)
end

-- policy:shared_breaker(name [, opts]) and policy:shared_family(name, opts)
local shared = require("fluxgate.shared")(Policy, {
  new_breaker = new_breaker, find = find, check_options = check_options, misuse = misuse, log = log,
  check_arg = check_arg, OPTION_FIELDS = OPTION_FIELDS, seed_halves = seed_halves, CLOCK_KINDS = CLOCK_KINDS,
})

---------------------------------------------------------------------------
-- Prometheus

local exposition = require("fluxgate.prometheus")

-- Families (fluxgate/family.lua): policy:family, and their aggregates.
local families = require("fluxgate.family")(M, Policy, {
  H = H, report = report, check_options = check_options, creation_args = creation_args, find = find,
  OPTION_FIELDS = OPTION_FIELDS, use = use,
})

-- fluxgate.prometheus() -> the text exposition of every breaker by name:
-- the live ones, and the counters of closed and collected ones; families
-- aggregated under their name (O(families), whatever their keys); shared
-- families add their tables' totals (fluxgate/shared_family.lua).
--
-- A scrape reads the totals of closed families first, then every open one.
-- A family closed in between (its finalizer, run by a collection step the
-- scrape's own allocations took: the weak table of families keeps a
-- dropped family until then) is in neither: its counts would dip for one
-- scrape. So a scrape during which a family was closed is taken again.
local family_closes = core.family_closes
function M.prometheus()
  local groups
  for _ = 1, 8 do
    local closes = family_closes()
    local by_name, seen_shared = core.stats()
    groups = shared.stats(families.stats(by_name), seen_shared)
    if family_closes() == closes then break end
  end
  return exposition(groups)
end

-- For the tests: the engine paths, and a switch for the FFI (on LuaJIT).
package.loaded["fluxgate.paths"] = { use = use, has_ffi = Ffi ~= nil, Classic = Classic, Ffi = Ffi, FfiShared = FfiShared,
                                     family = families.engine_paths, forget_zones = shared.forget_zones }

return M
