--[[
fluxgate/shared.lua -- breakers whose state every process of a group shares
(the workers of an nginx instance): policy:shared_breaker(name [, opts]).

The state block lives in a shared map (src/fg_shm.h): a file in /dev/shm
(or opts.dir) named after the zone, mapped MAP_SHARED. Made in init_by_lua
(nginx's master), it is inherited by every worker through fork; after
`nginx -s reload` the new Lua VM opens the same file again and attaches to
the block when the definition is unchanged (same fingerprint), so state and
counters carry on. A changed definition gets a fresh block, the next in
the breaker's chain of blocks in the zone (src/fg_shm.h "Chains": the
counters of all of them, which old workers may still count into, are the
breaker's), and a notice says so. Opened once per Lua state and path.
]]
local core = require("fluxgate.core")

local type, format, tostring = type, string.format, tostring

local DEFAULT_ZONE, DEFAULT_DIR, DEFAULT_SIZE = "fluxgate", "/dev/shm", 1048576

-- "64k", "1m", 1048576 -> bytes; nil when it is none of those.
local function parse_size(v)
  if type(v) == "number" then return v == math.floor(v) and v or nil end
  if type(v) ~= "string" then return nil end
  local n, unit = v:match("^(%d+)([kKmM]?)$")
  if not n then return nil end
  local mult = (unit == "k" or unit == "K") and 1024 or (unit == "m" or unit == "M") and 1048576 or 1
  return tonumber(n) * mult
end

return function(Policy, I)
  local maps = {} -- path -> the map userdata (this Lua state's opening)

  -- A notice (not an error): ngx.log at NOTICE under OpenResty, stderr
  -- elsewhere (fluxgate.lua's log).
  local function default_notice(msg) I.log("NOTICE", msg) end

  local ZONE_FIELDS = { zone = true, size = true, dir = true, notice = true }

  local function check_zone_options(opts, what)
    if opts.zone ~= nil and (type(opts.zone) ~= "string" or not opts.zone:match("^[%w_.-]+$") or #opts.zone > 64) then
      I.misuse(format("field 'zone' of %s must be a name of 1 to 64 letters, digits, '_', '.' or '-'", what), 4)
    end
    if opts.dir ~= nil and type(opts.dir) ~= "string" then
      I.misuse(format("field 'dir' of %s must be a directory path, not %s", what, type(opts.dir)), 4)
    end
    -- the C side would stop at the NUL and open another path
    if opts.dir ~= nil and opts.dir:find("\0", 1, true) then
      I.misuse(format("field 'dir' of %s must be a directory path without NUL bytes", what), 4)
    end
    if opts.size ~= nil and not parse_size(opts.size) then
      I.misuse(format("field 'size' of %s must be a number of bytes or a string like \"1m\" or \"256k\"", what), 4)
    end
    if opts.notice ~= nil and type(opts.notice) ~= "function" then
      I.misuse(format("field 'notice' of %s must be a function", what), 4)
    end
    if opts.clock ~= nil and type(opts.clock) ~= "string" then
      I.misuse(format("field 'clock' of %s must be \"coarse\" or \"precise\": a shared breaker's times are " ..
                      "shared by processes, so it reads the monotonic clock", what), 4)
    end
  end

  -- nginx's init phase (init_by_lua*, in the master or the process that
  -- becomes it), where an nginx instance opens its zones.
  local function in_nginx_init()
    local n = rawget(_G, "ngx")
    return type(n) == "table" and type(n.get_phase) == "function" and n.get_phase() == "init"
  end

  -- The map for opts (opened once per path in this Lua state), or nil, err.
  -- A zone that nginx's init phase finds in use by processes it did not
  -- start (another nginx instance with the same zone and dir, or one still
  -- draining) is attached, with a notice: the instances would share its
  -- breakers. Elsewhere (a worker's init_worker_by_lua, plain Lua processes
  -- that share a zone on purpose) nothing is said.
  local function open_map(opts)
    local zone = opts.zone or DEFAULT_ZONE
    local path = (opts.dir or DEFAULT_DIR):gsub("/+$", "") .. "/fluxgate-" .. zone .. ".zone"
    local map = maps[path]
    if map then
      -- Opened here already, by an earlier shared_breaker or shared_family
      -- of the zone: its mapping cannot grow, and a larger size asked for
      -- now must not be dropped in silence (the zone would later be "full",
      -- telling the user to give the size they gave).
      local want = opts.size ~= nil and parse_size(opts.size)
      local have = core.shared_map_usage(map)
      if want and want > have then
        return nil, format("shared zone '%s': opened in this process with %d bytes by an " ..
                           "earlier shared breaker or family of the zone, fewer than the %d " ..
                           "asked for: give the size to the zone's first opening (the same " ..
                           "size to each)",
                           zone, have, want)
      end
      return map, zone
    end
    local err, foreign
    -- (another spelling of a path opened already gets that map: core.shared_map)
    map, err, foreign = core.shared_map(path, parse_size(opts.size or DEFAULT_SIZE), maps)
    if not map then return nil, format("shared zone '%s': %s", zone, err) end
    maps[path] = map
    if foreign and in_nginx_init() then
      local notice = opts.notice or default_notice
      notice(format(
        "fluxgate: shared zone '%s' (%s) is in use by processes this one did not start (another nginx " ..
        "instance with the same zone and dir, or one still draining): they share its breakers, and a " ..
        "changed definition in one replaces the other's; give each instance its own zone or dir", zone, path))
    end
    return map, zone
  end

  local function without_zone_fields(opts)
    local copy = {}
    for k, v in pairs(opts) do if not ZONE_FIELDS[k] then copy[k] = v end end
    return copy
  end

  -- policy:shared_breaker(name [, opts]) -> breaker | nil, err
  function Policy:shared_breaker(name, opts)
    I.check_arg(name, 1, "shared_breaker", "string")
    if opts == nil then opts = {} end
    I.check_arg(opts, 2, "shared_breaker", "table")
    local allowed = {}
    for k in pairs(I.OPTION_FIELDS) do allowed[k] = true end
    for k in pairs(ZONE_FIELDS) do allowed[k] = true end
    I.check_options(opts, "opts", allowed)
    check_zone_options(opts, "opts")
    local index, err = I.find(self, name)
    if not index then return nil, err end
    local map, zone = open_map(opts)
    if not map then return nil, zone end
    local cb, status = I.new_breaker(self._ud, index, name, without_zone_fields(opts), map)
    if not cb then return nil, format("shared breaker '%s' in zone '%s': %s", name, zone, status) end
    if status == "replaced" then
      local notice = opts.notice or default_notice
      notice(format(
        "fluxgate: shared breaker '%s' in zone '%s' has a changed definition: it starts fresh (closed, " ..
        "empty window; counters carried over)", name, zone))
    end
    return cb
  end

  -- For the tests: the zone usage of an opened map.
  Policy.shared_zone_usage = function(_, opts)
    local map = open_map(opts or {})
    if not map then return nil end
    return core.shared_map_usage(map)
  end

  -- policy:shared_family(name, opts); { stats = fn(groups) -> groups } for fluxgate.prometheus()
  return require("fluxgate.shared_family")(Policy, I, {
    open_map = open_map, maps = maps, check_zone_options = check_zone_options, without_zone_fields = without_zone_fields,
    default_notice = default_notice, ZONE_FIELDS = ZONE_FIELDS,
  })
end
