--[[
fluxgate/nginx.lua -- the OpenResty phase helper: take an admission in the
access phase, give the upstream's own outcome back in the log phase.

  access_by_lua_block { require("fluxgate.nginx").access(BREAKERS.api) }
  log_by_lua_block    { require("fluxgate.nginx").log() }     -- http{} or server{} level

Why not ngx.ctx: nginx clears it on every internal redirect (error_page,
ngx.exec, X-Accel-Redirect), and the log phase that runs is the one of the
location the request *ends* in. So the admission is kept in a per-worker table
keyed by the request's address (stable across internal redirects), checked
against the request's start time (an address is reused by later requests),
and log() belongs at a level every location inherits.

What is recorded is the upstream's: its own time to answer (summed over
nginx's retries; see sum_times), the last status of its try list, and transport failures
named as the project's policies name them. See classify() for the table.
Shared (cross-worker) breakers and families are duck-typed: anything with
acquire()/release(), or get(key) returning such a thing.
]]
local ngx = ngx -- luacheck: ignore (the global exists in nginx; specs install a fake)

local type, tonumber, tostring, pairs, error, ceil = type, tonumber, tostring, pairs, error, math.ceil
local find, sub, gsub = string.find, string.sub, string.gsub

local M = {}

-- ---- what a request is -------------------------------------------------------
-- The request's address as a number (a table key equal across phases and
-- internal redirects). In nginx, resty.core.base.get_request gives a void*
-- cdata, which as a table key would be compared by identity: hence the cast.
local get_request, request_key
do
  local ok, base = pcall(require, "resty.core.base")
  get_request = ok and base.get_request or nil
  local ok_ffi, ffi = pcall(require, "ffi")
  if ok_ffi then
    local cast, tonum = ffi.cast, tonumber
    request_key = function()
      local r = get_request()
      if type(r) == "number" then return r end -- a fake request (specs)
      if r == nil then return nil end
      return tonum(cast("uintptr_t", r))
    end
  else
    request_key = function() return get_request() end -- Lua 5.4 specs only
  end
end

-- ---- the outcomes a release hands to the breaker's tracker ---------------------------
-- Constant values: a release reads their fields and keeps nothing, so no
-- request allocates one. The type names are the ones policies/*.fgp use.
local TIMEOUT  = { type = "timeout", status = 504,
                   message = "upstream timed out (no response header)" }
local REFUSED  = { type = "connection refused", status = 502,
                   message = "could not connect to the upstream" }
local RESET    = { type = "connection reset", status = 502,
                   message = "the upstream closed the connection without a valid response header" }
local NO_LIVE  = { type = "no live upstreams", status = 502,
                   message = "nginx tried no upstream server (all were marked failed)" }
local CANCELLED = { type = "cancelled",
                   message = "the client gave up before the upstream answered (it closed the " ..
                             "request: 499; or, unbuffered, stopped sending its body: 408, 400)" }
M.outcomes = { timeout = TIMEOUT, refused = REFUSED, reset = RESET, no_live = NO_LIVE, cancelled = CANCELLED }

-- ---- nginx's upstream variables ------------------------------------------------------
-- $upstream_status, $upstream_response_time, ... hold one entry per try,
-- ", " between the tries of one upstream, " : " between the upstream groups
-- of successive internal redirects ("502, 504 : 200").

-- The number of sep-separated parts of s.
local function part_count(s, sep)
  local n, at = 1, 1
  while true do
    local _, e = find(s, sep, at, true)
    if not e then return n end
    n, at = n + 1, e + 1
  end
end

-- The n-th sep-separated part of s (1-based), or nil.
local function part(s, sep, n)
  local at = 1
  for _ = 2, n do
    local _, e = find(s, sep, at, true)
    if not e then return nil end
    at = e + 1
  end
  local e = find(s, sep, at, true)
  return e and sub(s, at, e - 1) or (at == 1 and s or sub(s, at))
end

-- The number of " : "-separated groups in s (0 for nil).
local function group_count(s)
  if s == nil then return 0 end
  return part_count(s, " : ")
end

-- The n-th group of s (1-based), or nil.
local function group(s, n)
  if s == nil then return nil end
  return part(s, " : ", n)
end

-- The i-th try of a group (1-based; i = -1 for the last), or nil.
local function try(g, i)
  if g == nil then return nil end
  if i == -1 then
    local last, at = 1, 1
    while true do
      local _, e = find(g, ", ", at, true)
      if not e then break end
      last, at = e + 1, e + 1
    end
    return last == 1 and g or sub(g, last)
  end
  return part(g, ", ", i)
end

-- The number of tries in a group.
local function try_count(g) return part_count(g, ", ") end

-- The upstream's time over a group's tries, or nil when no try has one: a
-- try that got a response header counts its $upstream_header_time (the
-- time to that header), any other try its $upstream_response_time (the
-- time to its failure). Not the response time of a try that answered:
-- that lasts until nginx has read the whole body from the upstream, which
-- with proxy_buffering off (or its buffers and temp file full) nginx does
-- only as fast as the client takes it -- a slow-reading client made the
-- call slow (3.2 s for a 1 ms answer, 2 MB read at 640 KB/s).
-- rg, hg: the group's $upstream_response_time and $upstream_header_time.
local function sum_times(rg, hg)
  if rg == nil then return nil end
  local total, any, at, i = 0, false, 1, 0
  while true do
    local e = find(rg, ", ", at, true)
    i = i + 1
    local v = tonumber(try(hg, i)) or tonumber(e and sub(rg, at, e - 1) or sub(rg, at))
    if v then total, any = total + v, true end
    if not e then break end
    at = e + 2
  end
  return any and total or nil
end

-- Whether a try's $upstream_addr entry names a server ("127.0.0.1:8080",
-- "[::1]:8080", "unix:/run/app.sock"). When every server of the group is
-- marked failed, nginx records the try as 502 with no connection and the
-- *group's* name as its address ("backend"): no server was tried.
local function names_server(addr)
  return find(addr, "^unix:") ~= nil or find(addr, ":%d+$") ~= nil
end

-- A try nginx ended without a response header (uht "-") and answered 502/504
-- itself: a transport failure, named by what nginx saw. addr: the try's
-- $upstream_addr entry (nil: not known, a refusal).
local function transport(code, connect, header, addr)
  if header ~= "-" then return nil end
  if code == 504 then return TIMEOUT end
  if code == 502 then
    if connect ~= "-" then return RESET end
    if addr ~= nil and not names_server(addr) then return NO_LIVE end
    return REFUSED
  end
  return nil
end

--[[
classify(status, us, urt, uct, uht, first, ua) -> ok, value, duration
  status: ngx.status in the log phase; us/urt/uct/uht/ua: $upstream_status,
  $upstream_response_time, $upstream_connect_time, $upstream_header_time,
  $upstream_addr (ua may be nil: then a 502 never connected is a refusal);
  first: how many upstream groups the request had when it was admitted (the
  admission's own upstream is the next one). ok/value as cb:release takes
  them; duration nil means "the breaker's clock since acquire".

  nginx condition (the admission's upstream group)        outcome
  no upstream contacted, status 499                       error "cancelled" (client gave up)
  no upstream contacted, other status                     result, status = ngx.status, clock duration
  last try "-", status 4xx, an earlier try failed        that try's failure (below)
  last try "-", status 4xx, no earlier failure            error "cancelled"
    (the client's doing: 499 it closed the connection; with proxy_request_buffering
    off, 408 its body stalled past client_body_timeout, 400 it closed mid-body)
  last try "-", other status                              error "no live upstreams", 502
  last try 504 with no response header                    error "timeout", 504
  last try 502, never connected, its address the group's   error "no live upstreams", 502
    name, not a server's (every server marked failed)
  last try 502, never connected (connect time "-")        error "connection refused", 502
  last try 502, connected, no valid response header       error "connection reset", 502
  last try any status with a response header              result with that status
  duration: the upstream's time to answer, summed over the group's tries:
  a try's $upstream_header_time if it got a response header, else its
  $upstream_response_time (see sum_times).
]]
local function classify(status, us, urt, uct, uht, first, ua)
  local n = first + 1
  local g = group(us, n)
  if g == nil then
    if status == 499 then return false, CANCELLED, nil end
    return true, status, nil
  end
  local duration = sum_times(group(urt, n), group(uht, n))
  local last = try(g, -1)
  local code = tonumber(last)
  if code == nil then -- "-": nginx got no answer on the last try
    -- A 4xx here is the client's: it closed the request (499) or, with
    -- proxy_request_buffering off, stopped sending the body nginx was
    -- streaming to the upstream (408, 400): never the upstream's failure.
    if not (status and status >= 400 and status <= 499) then return false, NO_LIVE, duration end
    local cg, hg, ag = group(uct, n), group(uht, n), group(ua, n)
    for i = try_count(g) - 1, 1, -1 do
      local c = tonumber(try(g, i))
      if c and c >= 500 then
        local failure = transport(c, try(cg, i), try(hg, i), try(ag, i))
        if failure then return false, failure, duration end
        return true, c, duration
      end
    end
    return false, CANCELLED, duration
  end
  if code == 502 or code == 504 then
    local failure = transport(code, try(group(uct, n), -1), try(group(uht, n), -1),
                              try(group(ua, n), -1))
    if failure then return false, failure, duration end
  end
  return true, code, duration
end
M.classify = classify

-- ---- admissions in flight ---------------------------------------------------------------
-- pending[request address] = { breaker, token, groups at admission, request start }
local pending = {}
local stats = { pending = 0, stale = 0, swept = 0 }
local defaults = { status = 503, on_reject = nil, max_age = 600 }
local since_sweep = 0
local SWEEP_EVERY = 1024

-- Drops admissions older than max_age whose log phase never came (a location
-- whose own log_by_lua did not call log()). Their outcome is lost; a
-- half-open slot they held is the breaker's lease's to take back.
local function sweep(now)
  local limit = now - defaults.max_age
  for k, e in pairs(pending) do
    if e[4] < limit then
      pending[k] = nil
      stats.pending, stats.swept = stats.pending - 1, stats.swept + 1
    end
  end
end

-- Releases an admission with the outcome nginx's variables show.
local function finish(e)
  local var = ngx.var
  local us = var.upstream_status
  -- $upstream_addr tells only a 502 apart (no live upstreams): read only then
  local ua = us ~= nil and find(us, "502", 1, true) and var.upstream_addr or nil
  local ok, value, duration = classify(ngx.status, us, var.upstream_response_time,
                                       var.upstream_connect_time, var.upstream_header_time, e[3],
                                       ua)
  e[1]:release(e[2], ok, value, duration)
end

-- The breaker behind cb_or_family for this request, or nil, err.
local function resolve(cb_or_family, key)
  -- (policy:family is a userdata, policy:shared_family a table)
  local t = type(cb_or_family)
  local get = (t == "table" or t == "userdata") and cb_or_family.get
  if key == nil then
    -- A family's key taken from an nginx variable that is not set yet in
    -- the access phase (ngx.var.proxy_host is only set once proxy_pass
    -- runs) or from a missing header: a failed get, not a breaker.
    if type(get) == "function" then
      return nil, "the key is nil (an nginx variable not set in the access phase, such as $proxy_host?)"
    end
    return cb_or_family
  end
  if type(get) ~= "function" then
    error("fluxgate.nginx.access: a key was given, so the first argument must have get(key)", 3)
  end
  return get(cb_or_family, key)
end

local function reject(cb, rejection, opts)
  local on_reject = opts and opts.on_reject or defaults.on_reject
  if on_reject then return on_reject(rejection, cb) end
  local retry_after = type(rejection) == "table" and rejection.retry_after
  if retry_after then ngx.header["Retry-After"] = ceil(retry_after) end
  return ngx.exit(opts and opts.status or defaults.status)
end

--[[
access(cb_or_family, key?, opts?) -- in access_by_lua*.
  Takes an admission from the breaker (or from cb_or_family:get(key)). Admitted:
  returns true, the admission waits for log(). Rejected: answers opts.status
  (default 503) with Retry-After = ceil(rejection.retry_after) when the
  rejection has one; or, with opts.on_reject, returns on_reject(rejection, cb)
  instead (it may ngx.exit, ngx.exec a fallback, or return to let the request
  through unprotected). A request admitted again after an internal redirect
  keeps its admission when the breaker is the same; another breaker first
  gets the first one's outcome so far. A family whose get(key) fails is
  logged and the request goes through unprotected (fail open); so is a
  family given a nil key.
  opts: { status = n, on_reject = fn }.
]]
function M.access(cb_or_family, key, opts)
  if ngx.is_subrequest then
    error("fluxgate.nginx.access: subrequests have no log phase; call it in the main request", 2)
  end
  local cb, err = resolve(cb_or_family, key)
  if not cb then
    ngx.log(ngx.ERR, "fluxgate.nginx: no breaker for key ", tostring(key), ": ", tostring(err))
    return true
  end
  local k = request_key()
  local start = ngx.req.start_time()
  local e = pending[k]
  if e then
    if e[4] == start then
      if e[1] == cb then return true end -- the same request, redirected: one call
      finish(e)
    else
      stats.stale = stats.stale + 1 -- an earlier request at this address never logged
    end
    pending[k] = nil
    stats.pending = stats.pending - 1
  end
  local token, rejection = cb:acquire()
  if not token then return reject(cb, rejection, opts) end
  pending[k] = { cb, token, group_count(ngx.var.upstream_status), start }
  stats.pending = stats.pending + 1
  since_sweep = since_sweep + 1
  if since_sweep >= SWEEP_EVERY then
    since_sweep = 0
    sweep(ngx.now())
  end
  return true
end

--[[
log() -- in log_by_lua*, at the http{} or server{} level so that every
  location a request can end in (error_page targets, named locations)
  inherits it; a location with its own log_by_lua* must call it too. A
  request without an admission does nothing; a second call does nothing.
]]
function M.log()
  local k = request_key()
  local e = pending[k]
  if e == nil then return end
  pending[k] = nil
  stats.pending = stats.pending - 1
  if e[4] ~= ngx.req.start_time() then -- another request's, whose log never ran
    stats.stale = stats.stale + 1
    return
  end
  finish(e)
end

-- configure{ status = 503, on_reject = fn, max_age = 600 }: the defaults of
-- every later access(). max_age: seconds after which an admission whose log
-- phase never came is forgotten.
function M.configure(opts)
  if type(opts) ~= "table" then error("fluxgate.nginx.configure: a table expected", 2) end
  if opts.status ~= nil then defaults.status = opts.status end
  if opts.on_reject ~= nil then defaults.on_reject = opts.on_reject end
  if opts.max_age ~= nil then defaults.max_age = opts.max_age end
end

-- stats() -> { pending = admissions waiting for their log phase, stale = ones
-- found orphaned and dropped, swept = ones dropped for age } (this worker).
function M.stats()
  return { pending = stats.pending, stale = stats.stale, swept = stats.swept }
end

--[[
metrics([opts]) -- a whole content handler: fluxgate.prometheus()'s text with
  the exposition format's content type. opts.worker_label = true adds
  worker="<ngx.worker.id()>" to every series, so per-worker breakers scraped
  through one port give one monotonic series per worker instead of counters
  that jump between workers.
]]
function M.metrics(opts)
  local text = require("fluxgate").prometheus()
  if opts and opts.worker_label then
    -- Every series line follows a newline (the text opens with # HELP).
    text = gsub(text, "\n([%w_]+){", "\n%1{worker=\"" .. tostring(ngx.worker.id()) .. "\",")
  end
  ngx.header["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
  ngx.print(text)
end

return M
