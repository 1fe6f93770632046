--[[
fluxgate/shared_family.lua -- keyed shared breakers (the workers of an nginx
instance share one breaker per key): policy:shared_family(name, opts).

  UPSTREAMS = assert(policy:shared_family("upstream", { capacity = 256, zone = "gw" }))  -- init_by_lua
  local cb = UPSTREAMS:get(host)        -- a shared breaker: call, acquire/release, state, ...
  UPSTREAMS:call(host, fn, ...)  UPSTREAMS:acquire(host)  UPSTREAMS:release(token, ok, value [, duration])

The family is one region of the shared map (src/fg_shared_family.h): a
fixed table of `capacity` slots, each holding a key (at most 128 bytes)
and its state block. A key is made on first use by any process, under the
family's robust lock: processes making the same key get the same block.
Keys are never evicted (a handle another process holds could not notice
its slot reused); a full table gives nil, err. Each process keeps its
handle per key in a table, so get() on a known key is one lookup.

A key's breaker is a shared breaker (fluxgate/shared.lua) whose class adds
the field cb.key (as cb.name); its counters count in the family's totals, which
fluxgate.prometheus() exports under the family's name (counters summed over
every key of the table, keys per state in circuit_breaker_family_state).
Reload: an unchanged definition and capacity attach to the table (every
key keeps its state); otherwise a fresh table, the next in the family's
chain of tables (whose counters, old workers' included, are the family's),
and a notice.
]]
local core = require("fluxgate.core")

local type, format, pairs, ipairs, setmetatable, getmetatable, floor, tostring, tonumber =
  type, string.format, pairs, ipairs, setmetatable, getmetatable, math.floor, tostring, tonumber
local math_type = math.type -- nil on LuaJIT

local KEY_MAX, CAPACITY_MAX = 128, 16777216

return function(Policy, I, Z)
  -- every open family (weak), for fluxgate.prometheus()
  local families = setmetatable({}, { __mode = "k" })
  local Family = {}
  Family.__index = Family
  Family.__tostring = function(self) return "fluxgate shared family '" .. self._name .. "'" end

  local function is_family(v) return getmetatable(v) == Family end

  local function check_self(self, fname)
    if not is_family(self) then
      error(format("bad self to '%s' (a fluxgate shared family expected, got %s): call it as fam:%s(...)",
                   fname, type(self), fname), 3)
    end
  end

  -- The key's text: strings as they are, integers as their decimal text
  -- (every Lua 5.4 integer; a float with an integer value up to 2^53, as
  -- policy:family's keys).
  local function key_text(key)
    if type(key) == "string" then return key end
    if type(key) == "number" and (math_type and math_type(key) == "integer"
                                  or key == floor(key) and key >= -2^53 and key <= 2^53) then
      return format("%d", key)
    end
    return nil
  end

  -- A key's breaker lives in the family's table: a definition of its own
  -- would take it out (the table follows the definition: nginx -s reload).
  local function refuse_reload()
    return nil, "a shared family's key breaker cannot be reloaded alone: the family's table follows its " ..
                "definition when the policy is loaded again (nginx -s reload)"
  end

  -- The class of key's breaker: its class with the field `key` added (as
  -- `name` is one); one small table pair per key. The methods are found
  -- through the index's metatable (the class's index also holds copies of
  -- them: not copied per key).
  -- close (the method and Lua 5.4's __close) first calls forget(cb): the
  -- family must drop a closed handle from its cache, or every later use of
  -- the key would raise "closed" (the next get makes a new handle).
  local function key_class(class, key, forget)
    local derived = {}
    for k, v in pairs(class) do derived[k] = v end
    local close = class.__index.close
    local function close_key(cb, ...)
      forget(cb)
      return close(cb, ...)
    end
    local index = { name = class.__index.name, key = key, reload = refuse_reload, close = close_key }
    if derived.__close then derived.__close = close_key end
    derived.__index = setmetatable(index, getmetatable(class.__index))
    return derived
  end

  local function listener_for(fn, key)
    return function(t)
      t.key = key
      return fn(t)
    end
  end

  -- Makes this process's handle on key's breaker (the key itself made on
  -- first use by any process), or nil, err.
  local function make(self, key)
    local text = key_text(key)
    if text == nil then
      error(format("bad argument #1 to 'get' (a string or an integer key expected, got %s)", type(key)), 3)
    end
    local cb = self._cache[text]
    if not cb then
      if #text > KEY_MAX then
        return nil, format("shared family '%s': a key is at most %d bytes, not %d", self._name, KEY_MAX, #text)
      end
      local opts = {}
      for k, v in pairs(self._opts) do opts[k] = v end
      local ls = self._listeners
      if #ls > 0 then
        local wrapped = {}
        for i = 1, #ls do wrapped[i] = listener_for(ls[i], text) end
        opts.listeners = wrapped
      end
      local err
      cb, err = I.new_breaker(self._policy._ud, self._index, self._name, opts, self._map, { self._ud, text })
      if not cb then return nil, err end
      local cache = self._cache
      core.set_class(cb, key_class(getmetatable(cb), text, function(closing)
        if cache[text] ~= closing then return end -- closed before, or replaced
        cache[text] = nil
        local n = tonumber(text) -- the integer spelling of the key, cached too
        if n and format("%d", n) == text then cache[n] = nil end
      end))
      self._cache[text] = cb
    end
    self._cache[key] = cb
    return cb
  end

  -- fam:get(key) -> the key's shared breaker | nil, err (the table is full)
  function Family:get(key)
    local cb = self._cache[key]
    if cb then return cb end
    check_self(self, "get")
    return make(self, key)
  end

  -- fam:call(key, fn, ...) -> as cb:call; nil, err when the key cannot be made
  function Family:call(key, fn, ...)
    local cb, err = self:get(key)
    if not cb then return nil, err end
    return cb:call(fn, ...)
  end

  -- fam:call_with_fallback(key, fn, fallback, ...): fallback(err) also when
  -- the key cannot be made
  function Family:call_with_fallback(key, fn, fallback, ...)
    local cb, err = self:get(key)
    if not cb then return fallback(err) end
    return cb:call_with_fallback(fn, fallback, ...)
  end

  -- fam:acquire(key) -> token | nil, rejection | nil, err
  function Family:acquire(key)
    local cb, err = self:get(key)
    if not cb then return nil, err end
    local token, r = cb:acquire()
    if token then self._tokens[token] = cb end
    return token, r
  end

  -- fam:release(token, ok, value [, duration]): as cb:release, for a token of fam:acquire
  function Family:release(token, ...)
    check_self(self, "release")
    local cb = self._tokens[token]
    if not cb then error("fluxgate: fam:release needs a token that fam:acquire returned and that was not released", 2) end
    self._tokens[token] = nil
    return cb:release(token, ...)
  end

  -- Queries and commands go to the key's breaker (made if new).
  local function by_key(method)
    return function(self, key, ...)
      local cb, err = self:get(key)
      if not cb then return nil, err end
      return cb[method](cb, ...)
    end
  end
  for _, m in pairs({ "state", "info", "reset", "disable", "metrics_only", "force_open" }) do
    Family[m] = by_key(m)
  end

  -- fam.name is the family's name; fam:capacity()
  function Family:capacity() check_self(self, "capacity"); return self._capacity end

  -- fam:size() -> keys made so far by any process
  function Family:size()
    check_self(self, "size")
    return (core.shared_family_size(self._ud))
  end

  -- fam:keys() -> { key, ... }, { [key] = state name }: every process's keys
  function Family:keys()
    check_self(self, "keys")
    local keys, states = core.shared_family_keys(self._ud)
    local by_key = {}
    for i = 1, #keys do by_key[keys[i]] = states[i] end
    return keys, by_key
  end

  -- fam:stats() -> { name, keys, capacity, counts, states } (the whole table's)
  function Family:stats()
    check_self(self, "stats")
    local s = core.shared_family_stats(self._ud)
    s.name = self._name
    return s
  end

  -- fam:on_transition(fn): fn(t) for the transitions this process causes
  -- on any key, t.key naming it.
  function Family:on_transition(fn)
    check_self(self, "on_transition")
    I.check_arg(fn, 1, "on_transition", "function")
    local ls = self._listeners
    ls[#ls + 1] = fn
    for text, cb in pairs(self._cache) do
      if type(text) == "string" then cb:on_transition(listener_for(fn, text)) end
    end
    return self
  end

  -- policy:shared_family(name, opts) -> family | nil, err
  function Policy:shared_family(name, opts)
    I.check_arg(name, 1, "shared_family", "string")
    I.check_arg(opts, 2, "shared_family", "table")
    local allowed = { capacity = true }
    for k in pairs(I.OPTION_FIELDS) do allowed[k] = true end
    for k in pairs(Z.ZONE_FIELDS) do allowed[k] = true end
    I.check_options(opts, "opts", allowed)
    Z.check_zone_options(opts, "opts")
    local capacity = opts.capacity
    if type(capacity) ~= "number" or capacity ~= floor(capacity) or capacity < 1 or capacity > CAPACITY_MAX then
      I.misuse(format("field 'capacity' of opts must be a whole number of keys from 1 to %d, not %s", CAPACITY_MAX,
                      capacity ~= capacity and "nan" or type(capacity) == "string" and format("%q", capacity)
                        or tostring(capacity)), 2)
    end
    local index, err = I.find(self, name)
    if not index then return nil, err end
    local map, zone = Z.open_map(opts)
    if not map then return nil, zone end
    local args = { clock_kind = type(opts.clock) == "string" and I.CLOCK_KINDS[opts.clock] or 0 }
    if opts.seed ~= nil then args.seed_hi, args.seed_lo = I.seed_halves(opts.seed) end
    local ud, status = core.shared_family_open(map, self._ud, index, capacity, args)
    if not ud then return nil, format("shared family '%s' in zone '%s': %s", name, zone, status) end
    if status == "replaced" then
      local notice = opts.notice or Z.default_notice
      notice(format(
        "fluxgate: shared family '%s' in zone '%s' has a changed definition or capacity: it starts fresh (no " ..
        "keys; counters carried over)", name, zone))
    end
    local base = Z.without_zone_fields(opts)
    base.capacity, base.listeners = nil, nil
    local listeners = {}
    for i = 1, opts.listeners and #opts.listeners or 0 do listeners[i] = opts.listeners[i] end
    local fam = setmetatable({
      name = name, _ud = ud, _map = map, _policy = self, _index = index, _name = name, _zone = zone,
      _capacity = capacity, _opts = base, _listeners = listeners, _cache = {},
      _tokens = setmetatable({}, { __mode = "k" }),
    }, Family)
    families[fam] = true
    return fam
  end

  local STATE_COUNT = 0
  while core.STATES[STATE_COUNT] do STATE_COUNT = STATE_COUNT + 1 end

  -- Adds counts and per-state numbers to the group of `name` (made when
  -- missing); states_field: "states" (breakers) or "family_states" (keys).
  local function add(groups, name, counts, states, states_field)
    local g = groups[name]
    if not g then g = { counts = {} }; groups[name] = g end
    for k, n in pairs(counts) do g.counts[k] = (g.counts[k] or 0) + n end
    local s = g[states_field]
    if not s then s = {}; g[states_field] = s end
    for i = 1, STATE_COUNT do s[i] = (s[i] or 0) + (states[i] or 0) end
  end

  -- Adds every open family's table to core.stats()'s groups, once per chain
  -- of tables (s.chain: the tables of a name's definitions, counted together)
  -- however many family objects this state has on them: counts summed into
  -- the name's, keys per state in family_states. Then everything else the
  -- zones this state opened hold (core.shared_map_totals): shared breakers
  -- and families on which this process has no handle (left), or never
  -- had one. Their counters are the nginx instance's, so every worker
  -- reports them alike, and a name whose last handle here was closed or
  -- collected keeps its series (counters never decrease).
  -- seen_breakers: core.stats()'s chains of the open shared breakers.
  local function stats(groups, seen_breakers)
    local seen = {}
    for fam in pairs(families) do
      local s = core.shared_family_stats(fam._ud)
      if not seen[s.chain] then
        seen[s.chain] = true
        add(groups, fam._name, s.counts, s.states, "family_states")
      end
    end
    seen_breakers = seen_breakers or {}
    local walked = {} -- a map once, under however many spellings of its path
    for _, map in pairs(Z.maps) do
      if not walked[map] then
        walked[map] = true
        for _, r in ipairs(core.shared_map_totals(map)) do
          local done = r.kind == "breaker" and seen_breakers or seen
          if not done[r.chain] then
            done[r.chain] = true
            add(groups, r.name, r.counts, r.states, r.kind == "breaker" and "states" or "family_states")
          end
        end
      end
    end
    return groups
  end

  -- For the tests (fluxgate.paths): forget the zones opened so far, so
  -- that the next test's exposition holds its own zones only. (A Lua
  -- state keeps its zones for its life: an nginx worker's are the
  -- instance's.)
  local function forget_zones()
    for path in pairs(Z.maps) do Z.maps[path] = nil end
  end

  return { stats = stats, forget_zones = forget_zones }
end
