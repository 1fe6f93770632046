--[[
fg_harness.lua -- the nginx side of the real-nginx tests (tests/nginx/run.sh):
the switchable upstream, the control endpoint the driver talks to, and each
worker's report of its breakers (every worker publishes into the fg_test
shared dict, since a request reaches only one worker).

Modes of the upstream (shared dict key "mode"): ok, 5xx (500), slow (sleeps
"delay" seconds, then 200), big (200 with "size" bytes), refused (the guarded
locations proxy to a port nobody listens on: see upstream_port()). A path with
"/fail/" in it is answered 500 in every mode (the changed-reload load's failures).
]]
local fluxgate_nginx = require("fluxgate.nginx")
local fluxgate = require("fluxgate")

local M = {}
local dict = ngx.shared.fg_test

-- The port the guarded locations proxy to (set_by_lua): the upstream's, or a
-- dead one in mode "refused".
function M.upstream_port(up, dead)
  return dict:get("mode") == "refused" and dead or up
end

-- content_by_lua of the upstream server.
function M.upstream()
  dict:incr("hits", 1, 0)
  -- a POST's body is read first (/upload/: nginx streams it, unbuffered)
  if ngx.req.get_method() == "POST" then ngx.req.read_body() end
  local mode = dict:get("mode") or "ok"
  if mode == "5xx" or ngx.var.uri:find("/fail/", 1, true) then
    ngx.status = 500
    return ngx.say("upstream failure")
  elseif mode == "slow" then
    ngx.sleep(dict:get("delay") or 1)
  elseif mode == "big" then
    local size = dict:get("size") or 1048576
    local chunk = string.rep("x", 65536)
    ngx.header["Content-Length"] = size
    for _ = 1, math.floor(size / 65536) do ngx.print(chunk) end
    return ngx.print(string.rep("x", size % 65536))
  end
  ngx.say("ok")
end

-- One worker's report: a line per breaker,
--   w<id> <name> <state> <total> <failures> <total_duration> <slow_at_1s> <success> <failure> <ignored> <rejected>
-- then "w<id> _worker <pending admissions> <stale> <swept> <Lua KiB after a full GC>".
local function report()
  local id = ngx.worker.id()
  local calls = {}
  for name, outcome, n in fluxgate.prometheus():gmatch(
      'circuit_breaker_calls_total{circuit_name="([^"]+)",outcome="(%a+)"} (%d+)') do
    calls[name .. "/" .. outcome] = n
  end
  local lines = {}
  local all = {}
  for name, cb in pairs(BREAKERS) do all[name] = cb end
  for name, cb in pairs(SHARED or {}) do all[name] = cb end
  for name, cb in pairs(all) do
    local info = cb:info()
    local m = info.metrics
    lines[#lines + 1] = string.format("w%d %s %s %d %d %.6f %d %s %s %s %s", id, name, info.state,
      m.total_count, m.failure_count, m.total_duration, (m.slow_counts or {})[1] or 0,
      calls[name .. "/success"] or 0, calls[name .. "/failure"] or 0,
      calls[name .. "/ignored"] or 0, calls[name .. "/rejected"] or 0)
  end
  collectgarbage()
  local st = fluxgate_nginx.stats()
  lines[#lines + 1] = string.format("w%d _worker %d %d %d %.0f %d %s", id, st.pending, st.stale, st.swept,
                                    collectgarbage("count"), ngx.worker.pid(), table.concat(M.listened, ","))
  return table.concat(lines, "\n")
end

-- Transitions this worker's listeners heard on the shared breakers
-- ("name:old>new"), for the driver (each must be heard by one worker, once).
M.listened = {}

-- init_worker_by_lua: answer report requests (a new "epoch") every 20 ms.
function M.start_publishing()
  for name, cb in pairs(SHARED or {}) do
    cb:on_transition(function(sig)
      M.listened[#M.listened + 1] = name .. ":" .. sig.old_state .. ">" .. sig.new_state .. "#" .. sig.sequence
    end)
  end
  local seen = 0
  ngx.timer.every(0.02, function(premature)
    if premature then return end
    local epoch = dict:get("epoch") or 0
    if epoch ~= seen then
      seen = epoch
      dict:set("report:" .. ngx.worker.id(), report())
      dict:set("epoch:" .. ngx.worker.id(), epoch)
    end
  end)
end

-- content_by_lua of /_test/: ping, set?mode=..&delay=..&size=.., hits
-- (and reset), report (every worker's, fresh), time?uri=.., counted?name=..
function M.control()
  local what = ngx.var.uri:match("^/_test/(%a+)")
  local args = ngx.req.get_uri_args()
  if what == "ping" then
    return ngx.say("pong")
  elseif what == "set" then
    dict:set("mode", args.mode or "ok")
    dict:set("delay", tonumber(args.delay) or 1)
    dict:set("size", tonumber(args.size) or 1048576)
    return ngx.say("mode ", args.mode)
  elseif what == "hits" then
    local n = dict:get("hits") or 0
    if args.reset then dict:set("hits", 0) end
    return ngx.say(n)
  elseif what == "report" then
    local epoch = dict:incr("epoch", 1, 0)
    local workers = ngx.worker.count()
    for _ = 1, 100 do
      local done = 0
      for w = 0, workers - 1 do
        if dict:get("epoch:" .. w) == epoch then done = done + 1 end
      end
      if done == workers then
        for w = 0, workers - 1 do ngx.say(dict:get("report:" .. w)) end
        return
      end
      ngx.sleep(0.02)
    end
    ngx.status = 500
    return ngx.say("not every worker reported")
  elseif what == "time" then
    return ngx.say(dict:get("time:" .. (args.uri or "")) or -1)
  elseif what == "hold" then
    -- Debug only (this test config): take a shared breaker's lock and keep
    -- it, so that the driver can SIGKILL this worker while it holds it.
    local ffi = require("ffi")
    -- fluxgate.core does not export it: make test-nginx builds the hook beside the tree.
    pcall(ffi.cdef, "void fg_nginx_test_hold_lock(fg_breaker *h);")
    local C = ffi.load(package.searchpath("fluxgate_test_hooks", package.cpath))
    local cb = SHARED[args.name or ""]
    if not cb then return ngx.exit(404) end
    ngx.say(ngx.worker.pid())
    ngx.flush(true)
    C.fg_nginx_test_hold_lock(ffi.cast("fgl_head *", cb).engine)
    return ngx.sleep(60)
  elseif what == "counted" then
    return ngx.say(dict:get("count:" .. (args.name or "")) or 0)
  end
  return ngx.exit(404)
end

-- log_by_lua: nginx's own time for the request, read with /_test/time?uri=...
function M.note()
  dict:set("time:" .. ngx.var.uri, tonumber(ngx.var.request_time))
end

-- A counter the driver reads with /_test/counted?name=...
function M.count(name)
  dict:incr("count:" .. name, 1, 0)
end

return M
