--[[
fluxgate/family.lua -- families of breakers (SPEC.md section 10):
policy:family(name, opts) -> breakers of one definition, one per key, made
on first use, kept by the engine's fg_family (one userdata per family,
lua/fluxgate_family.c; per key one allocation outside the Lua heap).

  local fam = policy:family("matchmaking", { max_keys = 10000, idle = 300 })
  fam:call(player_id, fn, ...)                 -- as cb:call, for that key's breaker
  fam:call_with_fallback(key, fn, fallback, ...)
  local token, r = fam:acquire(key); fam:release(token, ok, value [, duration])
  local cb = fam:get(key)                      -- a breaker-like view of one key
  fam:keys(), fam:size(), fam:on_transition(fn), fam:stats(), fam:close()

Keys are strings (any bytes) or integers (their decimal text: 42 and "42"
are one key). A key that cannot be made because the family is full of keys
in use gives nil, err (err a string starting "fluxgate family is full"),
never a raise; call_with_fallback hands err to the fallback.

The engine paths are the breakers': Lua 5.4 C functions (fn may yield);
LuaJIT the FFI into fg_family_*, or for families with a Lua random function
or Custom() predicates a Lua frame with pcall around the classic C calls.

  require("fluxgate.family")(M, Policy, internals) installs policy:family
  and returns { stats = fn(groups) -> groups } for fluxgate.prometheus().
]]
local core = require("fluxgate.core")
local outcome = require("fluxgate.outcome")

local type, error, pcall, tostring, setmetatable, getmetatable, rawget, pairs, next =
  type, error, pcall, tostring, setmetatable, getmetatable, rawget, pairs, next
local format, floor, math_type = string.format, math.floor, math.type -- math.type: nil on LuaJIT

return function(M, Policy, I)
  local H, report = I.H, I.report
  local c_drain, c_env, c_pending = core.family_drain, core.family_env, core.family_pending
  local MARK = {} -- families are told by their class (__is_family)
  local WEAK_K, WEAK_V = { __mode = "k" }, { __mode = "v" }

  -- every family made, for fluxgate.prometheus() (weak: a collected family's
  -- counters go to its name's totals when it is closed)
  local families = setmetatable({}, WEAK_K)

  local function family_name(self)
    local mt = getmetatable(self)
    return type(mt) == "table" and rawget(mt, "__family_name") or "?"
  end

  local function is_family(v)
    local mt = getmetatable(v)
    return type(v) == "userdata" and type(mt) == "table" and rawget(mt, "__is_family") == MARK
  end

  local function misuse_self(v, fname)
    error(format("bad self to '%s' (a fluxgate family expected, got %s): call it as fam:%s(...), not fam.%s(...)",
                 fname, type(v), fname, fname), 3)
  end

  -- A key as the engine sees it (integers as decimal text); raises otherwise.
  -- Every Lua 5.4 integer is one, as for the C functions (fgl_family_key):
  -- fam:call(math.maxinteger, fn) makes a key fam:state must find.
  local function key_of(key, fname)
    local t = type(key)
    if t == "string" then return key end
    if t == "number" and (math_type and math_type(key) == "integer"
                          or key == floor(key) and key >= -2^53 and key <= 2^53) then
      return format("%d", key)
    end
    error(format("bad argument #1 to '%s' (a family key is a string or an integer, got %s)", fname,
                 t == "number" and "the number " .. tostring(key) or t), 3)
  end

  -------------------------------------------------------------------------
  -- transitions: as breakers', each signal with `key`

  local drain = H.make_drain("family", family_name, c_drain, c_env)
  core.family_init(drain)

  -------------------------------------------------------------------------
  -- methods every engine path shares

  local common = {}

  -- fam:get(key) -> a breaker-like view of the key's breaker | nil, err
  -- (made on first use; the same view while it is referenced)
  function common.get(self, key)
    if not is_family(self) then misuse_self(self, "get") end
    key = key_of(key, "get")
    local ok, err = core.family_get(self, key)
    if c_pending(self) then drain(self) end
    if not ok then return nil, err end
    local views = rawget(getmetatable(self), "__views")
    local view = views[key]
    if view == nil then
      view = setmetatable({ family = self, key = key, name = family_name(self) }, rawget(getmetatable(self), "__view_class"))
      views[key] = view
    end
    return view
  end

  -- A query of one key: c_query's answer (nil when there is no such key),
  -- after draining the transitions it found due.
  local function query(c_query, fname)
    return function(self, key)
      if not is_family(self) then misuse_self(self, fname) end
      local answer, pending = c_query(self, key_of(key, fname))
      if pending then drain(self) end
      return answer
    end
  end
  -- fam:state(key) -> the key's state, or nil when the family has no such key
  common.state = query(core.family_state, "state")
  -- fam:info(key) -> as cb:info() plus `key`, or nil when there is no such key
  common.info = query(core.family_info, "info")

  local function command(op, fname)
    -- fam:reset(key) ...: true, or false when there is no such key
    return function(self, key)
      if not is_family(self) then misuse_self(self, fname) end
      local done, pending = core.family_command(self, key_of(key, fname), op)
      if pending then drain(self) end
      return done
    end
  end
  common.reset = command(0, "reset")
  common.disable = command(1, "disable")
  common.metrics_only = command(2, "metrics_only")
  common.force_open = command(3, "force_open")

  -- A method of the whole family: c_fn(self), once self is a family.
  local function of_family(c_fn, fname)
    return function(self)
      if not is_family(self) then misuse_self(self, fname) end
      return c_fn(self)
    end
  end
  -- fam:size() -> the number of keys
  common.size = of_family(core.family_size, "size")
  -- fam:keys() -> array of keys, most recently used first
  common.keys = of_family(core.family_keys, "keys")
  -- fam:evict_idle() -> keys evicted: a full sweep (O(keys)); each call also
  -- evicts a couple of idle keys on its own
  common.evict_idle = of_family(core.family_evict_idle, "evict_idle")

  -- fam:stats() -> { name, keys, created, evicted, lease_expired, bytes,
  --   key_footprint, states = { closed = n, ... }, calls = { success, failure,
  --   ignored, rejected } } in O(states)
  function common.stats(self)
    if not is_family(self) then misuse_self(self, "stats") end
    local s = core.family_stats(self)
    -- nil only for a closed family (prometheus() skips those; a caller is told)
    if s == nil then error(format("fluxgate: family '%s' is closed", family_name(self)), 2) end
    local states, calls = {}, {}
    for i = 0, #core.STATES do
      local st = core.STATES[i]
      if st then states[st] = s.states[i + 1] end
    end
    calls.success, calls.failure, calls.ignored, calls.rejected = s.counts[1], s.counts[2], s.counts[3], s.counts[4]
    return { name = s.name, keys = s.keys, created = s.created, evicted = s.evicted, lease_expired = s.lease_expired,
             bytes = s.bytes, key_footprint = s.key_footprint, states = states, calls = calls }
  end

  function common.on_transition(self, fn)
    if not is_family(self) then misuse_self(self, "on_transition") end
    H.check_callable(fn, 1, "on_transition")
    core.family_listen(self)
    H.add_listener(c_env(self, true), fn)
  end

  -- fam:close(): frees every key now (idempotent; also __gc and __close);
  -- the counters stay in the name's Prometheus totals.
  common.close = core.family_close

  local function methods_with(path) return H.methods_with(common, path) end

  -------------------------------------------------------------------------
  -- the engine paths

  local Classic
  if core.family_call then -- Lua 5.4: C functions (integer keys are turned into text there)
    Classic = methods_with({ call = core.family_call, call_with_fallback = core.family_call_with_fallback,
                             acquire = core.family_acquire, release = core.family_release })
  else -- LuaJIT, classic: fn runs under pcall in a Lua frame
    local c_admit, c_record, c_acquire, c_release =
      core.family_admit, core.family_record, core.family_acquire, core.family_release

    local finish, finish_fallback = H.make_finish(c_record, c_pending, drain)

    Classic = methods_with({
      call = function(self, key, fn, ...)
        if not is_family(self) then misuse_self(self, "call") end
        key = key_of(key, "call")
        H.check_callable(fn, 2, "call")
        local p, g, t0, e = c_admit(self, key)
        if c_pending(self) then drain(self) end
        if not p then return nil, g end
        return finish(self, p, g, t0, e, pcall(fn, ...))
      end,
      call_with_fallback = function(self, key, fn, fallback, ...)
        if not is_family(self) then misuse_self(self, "call_with_fallback") end
        key = key_of(key, "call_with_fallback")
        H.check_callable(fn, 2, "call_with_fallback")
        H.check_callable(fallback, 3, "call_with_fallback")
        local p, g, t0, e = c_admit(self, key)
        if c_pending(self) then drain(self) end
        if not p then return fallback(g) end
        return finish_fallback(self, fallback, p, g, t0, e, pcall(fn, ...))
      end,
      acquire = function(self, key)
        if not is_family(self) then misuse_self(self, "acquire") end
        local token, r = c_acquire(self, key_of(key, "acquire"))
        if c_pending(self) then drain(self) end
        return token, r
      end,
      release = H.make_release(c_release, c_pending, drain),
    })
  end

  local ffi_methods = require("fluxgate.family_ffi")(core, {
    drain = drain, read_clock = H.read_clock, key_of = key_of, is_family = is_family,
    misuse_self = misuse_self, check_callable = H.check_callable, family_name = family_name,
    closed = function(self) error(format("fluxgate: family '%s' is closed", family_name(self)), 4) end,
    ffi = H.ffi,
  })
  local Ffi = ffi_methods and methods_with(ffi_methods)
  H.cross_release(Ffi, Classic, "cdata")

  -------------------------------------------------------------------------
  -- views: fam:get(key) -> a breaker-like object for one key

  local function view_methods(fam_methods)
    local V = {}
    function V.call(v, ...) return fam_methods.call(v.family, v.key, ...) end
    function V.call_with_fallback(v, ...) return fam_methods.call_with_fallback(v.family, v.key, ...) end
    function V.acquire(v) return fam_methods.acquire(v.family, v.key) end
    function V.release(v, ...) return fam_methods.release(v.family, ...) end
    -- a key evicted since fam:get is made again by the next call; until then
    -- it is what a new key is: closed
    function V.state(v) return common.state(v.family, v.key) or "closed" end
    function V.info(v)
      local info = common.info(v.family, v.key)
      if info then return info end
      local ok, err = common.get(v.family, v.key)
      if not ok then return nil, err end
      return common.info(v.family, v.key)
    end
    local function command(name)
      return function(v)
        if common[name](v.family, v.key) then return true end
        local ok, err = common.get(v.family, v.key)
        if not ok then return nil, err end
        return common[name](v.family, v.key)
      end
    end
    V.reset, V.disable, V.metrics_only, V.force_open =
      command("reset"), command("disable"), command("metrics_only"), command("force_open")
    function V.wrap(v, fn, fallback)
      H.check_callable(fn, 1, "wrap")
      if fallback == nil then return function(...) return v:call(fn, ...) end end
      H.check_callable(fallback, 2, "wrap")
      return function(...) return v:call_with_fallback(fn, fallback, ...) end
    end
    return { __index = V, __tostring = function(v)
      return format("fluxgate breaker '%s' key %q", family_name(v.family), v.key)
    end }
  end

  -------------------------------------------------------------------------
  -- making families

  local function tostring_family(self) return "fluxgate family '" .. family_name(self) .. "'" end

  -- Gives a family's class the methods of its engine path and its name.
  local function set_path(class, name, uses_custom)
    local methods = (class.__ffi_ok and not uses_custom) and Ffi or Classic
    class.__index = H.index_of(methods, name) -- one lookup finds a method (fluxgate.lua)
    -- calls the FFI path admitted before a reload to Custom() predicates
    -- are classified through Lua (family_ffi.lua)
    class.__lua_classify = (Ffi ~= nil and uses_custom) or nil
    class.__view_class = view_methods(methods)
  end

  local FAMILY_FIELDS = { max_keys = true, idle = true, lease = true, metrics = true }
  for k in pairs(I.OPTION_FIELDS) do FAMILY_FIELDS[k] = true end

  local function check_family_options(opts)
    local function bad(field, want)
      local v = opts[field]
      error(format("fluxgate: field '%s' of opts must be %s, not %s", field, want,
                   v ~= v and "nan" or type(v) == "number" and tostring(v) or type(v)), 4)
    end
    local mk = opts.max_keys
    if mk ~= nil and (type(mk) ~= "number" or mk ~= floor(mk) or mk < 0 or mk >= 2^53) then
      bad("max_keys", "an integer >= 0")
    end
    for _, f in ipairs({ "idle", "lease" }) do
      local v = opts[f]
      if v ~= nil and (type(v) ~= "number" or v ~= v or v < 0 or v == math.huge) then
        bad(f, "a finite number of seconds >= 0")
      end
    end
    if opts.metrics ~= nil and opts.metrics ~= "aggregate" and opts.metrics ~= "per_key" then
      bad("metrics", '"aggregate" or "per_key"')
    end
  end

  -- policy:family(name [, opts]) -> family | nil, err
  function Policy:family(name, opts)
    if type(name) ~= "string" then
      error(format("bad argument #1 to 'family' (string expected, got %s)", type(name)), 2)
    end
    if opts == nil then opts = {} end
    if type(opts) ~= "table" then
      error(format("bad argument #2 to 'family' (table expected, got %s)", type(opts)), 2)
    end
    I.check_options(opts, "opts", FAMILY_FIELDS)
    check_family_options(opts)
    local index, err = I.find(self, name)
    if not index then return nil, err end
    local args, clock = I.creation_args(opts)
    args.max_keys, args.idle, args.lease = opts.max_keys or 0, opts.idle or 0, opts.lease or 0
    args.per_key = opts.metrics == "per_key"
    local class = {
      __is_family = MARK, __family_name = name, __clock = clock, -- (the C side checks the family's tag)
      __views = setmetatable({}, WEAK_V),
      __gc = core.family_close, __close = core.family_close,
      __tostring = tostring_family,
      -- the FFI path, unless the definition needs Custom() predicates
      __ffi_ok = Ffi ~= nil and I.use.ffi and opts.random == nil,
    }
    local fam, uses_custom = core.family_new(self._ud, index, class, args)
    if not fam then return nil, uses_custom end
    set_path(class, name, uses_custom)
    families[fam] = true
    return fam
  end

  -- fam:reload(policy [, name]) -> true | nil, err: switches the family to
  -- the definition `name` of policy (default: the family's own name), every
  -- key keeping its state (fluxgate.h, fg_family_reload_with; keys move on
  -- their next use). The family takes the new name (signals, rejections,
  -- views, Prometheus) and the engine path the new definition needs.
  -- Custom() names resolve against the predicates the family was made with.
  function common.reload(self, policy, name)
    if not is_family(self) then misuse_self(self, "reload") end
    if getmetatable(policy) ~= Policy then
      error(format("bad argument #1 to 'reload' (a fluxgate policy expected, got %s)", type(policy)), 2)
    end
    if name == nil then name = family_name(self) end
    if type(name) ~= "string" then
      error(format("bad argument #2 to 'reload' (string expected, got %s)", type(name)), 2)
    end
    local index, err = I.find(policy, name)
    if not index then return nil, err end
    local ok, uses_custom = core.family_reload(self, policy._ud, index)
    if not ok then return nil, uses_custom end
    local class = getmetatable(self)
    class.__family_name = name
    set_path(class, name, uses_custom)
    for _, view in pairs(class.__views) do
      view.name = name
      setmetatable(view, class.__view_class)
    end
    if c_pending(self) then drain(self) end
    return true
  end
  Classic.reload = common.reload
  if Ffi then Ffi.reload = common.reload end

  -------------------------------------------------------------------------
  -- Prometheus: families' aggregates (O(families), whatever their keys)

  local STATE_COUNT = 0
  while core.STATES[STATE_COUNT] do STATE_COUNT = STATE_COUNT + 1 end

  local function add(into, from)
    for k, n in pairs(from) do into[k] = (into[k] or 0) + n end
  end

  -- Adds every open family to core.stats()'s groups: counts summed into the
  -- name's, keys per state in family_states, per-key series in keys (one
  -- { key, states, counts } per key text, summed over the name's families).
  local function stats(groups)
    for fam in pairs(families) do
      local s = core.family_stats(fam)
      if s then
        local g = groups[s.name]
        if not g then g = { counts = {} }; groups[s.name] = g end
        add(g.counts, s.name_counts)
        local fs = g.family_states
        if not fs then fs = {}; g.family_states = fs end
        for i = 1, STATE_COUNT do fs[i] = (fs[i] or 0) + (s.states[i] or 0) end
        if s.per_key then
          -- one entry per key text: families of one name with a key in
          -- common add up, as breakers of one name do (the same series
          -- twice would make Prometheus refuse the whole scrape)
          local keys, at = g.keys, g.key_at
          if not keys then keys, at = {}, {}; g.keys, g.key_at = keys, at end
          local list = core.family_key_stats(fam)
          for i = 1, #list do
            local k = list[i]
            local e = at[k.key]
            if not e then
              e = { key = k.key, states = {}, counts = {} }
              at[k.key] = e
              keys[#keys + 1] = e
            end
            e.states[k.state + 1] = (e.states[k.state + 1] or 0) + 1
            add(e.counts, k.counts)
          end
        end
      end
    end
    return groups
  end

  return { stats = stats, engine_paths = { Classic = Classic, Ffi = Ffi } }
end
