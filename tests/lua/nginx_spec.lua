-- fluxgate.nginx, the OpenResty phase helper, against a fake `ngx` table: the
-- outcome nginx's upstream variables map to, admissions kept across internal
-- redirects, rejections, stale and swept admissions, the metrics handler.
-- tests/nginx/run.sh drives the same module in a real nginx.
local fluxgate = require("fluxgate")

-- A fake of the parts of ngx that fluxgate.nginx reads. req(addr, start)
-- begins a request at that address (what get_request identifies) and time.
local function fake_ngx()
  local n = { var = {}, header = {}, status = 200, is_subrequest = false, ERR = 4, clock = 1000,
              exited = nil, printed = {}, logged = {} }
  n.req = { start_time = function() return n.start end }
  n.worker = { id = function() return 1 end }
  n.now = function() return n.clock end
  n.exit = function(code) n.exited = code; return code end
  n.log = function(_, ...) n.logged[#n.logged + 1] = table.concat({ ... }) end
  n.print = function(s) n.printed[#n.printed + 1] = s end
  function n:request(addr, start, vars)
    self.addr, self.start, self.var, self.header, self.status, self.exited = addr, start, vars or {}, {}, 200, nil
  end
  return n
end

-- A breaker that records what it is given.
local function recorder(admit)
  local r = { acquired = 0, released = {} }
  function r:acquire()
    if admit == false then return nil, { type = "CallNotPermitted", retry_after = 2.2 } end
    self.acquired = self.acquired + 1
    return { n = self.acquired }
  end
  function r:release(token, ok, value, duration)
    self.released[#self.released + 1] = { token = token, ok = ok, value = value, duration = duration }
  end
  return r
end

local ngx_fake, nginx

local function load_module()
  ngx_fake = fake_ngx()
  rawset(_G, "ngx", ngx_fake)
  package.loaded["resty.core.base"] = { get_request = function() return ngx_fake.addr end }
  package.loaded["fluxgate.nginx"] = nil
  nginx = require("fluxgate.nginx")
end

local function unload_module()
  rawset(_G, "ngx", nil)
  package.loaded["resty.core.base"] = nil
  package.loaded["fluxgate.nginx"] = nil
end

describe("fluxgate.nginx classify (nginx's variables -> the outcome released)", function()
  setup(load_module)
  teardown(unload_module)

  local function classify(status, us, urt, uct, uht, first, ua)
    return nginx.classify(status, us, urt, uct, uht, first or 0, ua)
  end

  it("an upstream answer is a result with its status and the upstream's time to answer", function()
    local ok, v, d = classify(200, "200", "0.120", "0.001", "0.100")
    assert.is_true(ok); assert.are.equal(200, v); assert.are.equal(0.1, d)
    -- proxy_buffering off: nginx read the 2 MB body only as fast as a slow
    -- client took it (what nginx 1.22 logs); the upstream answered in 1 ms
    ok, v, d = classify(200, "200", "3.237", "0.000", "0.001")
    assert.is_true(ok); assert.are.equal(200, v); assert.are.equal(0.001, d)
    ok, v = classify(500, "500", "0.010", "0.001", "0.010")
    assert.is_true(ok); assert.are.equal(500, v)
  end)

  it("the last try of a retried request decides; the tries' times add up", function()
    -- each try's time to its answer (header time) or, without one, to its failure
    local ok, v, d = classify(504, "502, 502, 504", "0.100, 0.200, 0.300", "-, 0.001, 0.001",
                              "-, 0.150, -")
    assert.is_false(ok); assert.are.equal("timeout", v.type); assert.are.equal(504, v.status)
    assert.is_true(math.abs(d - 0.55) < 1e-9)
    ok, v, d = classify(200, "502, 200", "0.001, 0.050", "-, 0.001", "-, 0.040")
    assert.is_true(ok); assert.are.equal(200, v); assert.is_true(math.abs(d - 0.041) < 1e-9)
  end)

  it("names transport failures as the policies do", function()
    local _, v = classify(502, "502", "0.000", "-", "-")
    assert.are.equal("connection refused", v.type); assert.are.equal(502, v.status)
    _, v = classify(502, "502", "0.003", "0.001", "-")
    assert.are.equal("connection reset", v.type)
    _, v = classify(504, "504", "1.000", "-", "-")
    assert.are.equal("timeout", v.type)
    -- a 502 or 504 the upstream itself sent (a response header came) is a result
    local ok, code = classify(502, "502", "0.003", "0.001", "0.002")
    assert.is_true(ok); assert.are.equal(502, code)
  end)

  it("a client abort before the upstream answered is 'cancelled', not a success", function()
    local ok, v, d = classify(499, "-", "0.197", "0.000", "-")
    assert.is_false(ok); assert.are.equal("cancelled", v.type); assert.is_nil(v.status)
    assert.are.equal(0.197, d)
    ok, v = classify(499, nil, nil, nil, nil)
    assert.is_false(ok); assert.are.equal("cancelled", v.type)
  end)

  it("a client abort after a failed try records that failure", function()
    local ok, v = classify(499, "502, -", "0.000, 0.300", "-, 0.001", "-, -")
    assert.is_false(ok); assert.are.equal("connection refused", v.type)
    ok, v = classify(499, "500, -", "0.010, 0.300", "0.001, 0.001", "0.010, -")
    assert.is_true(ok); assert.are.equal(500, v)
    ok, v = classify(499, "404, -", "0.010, 0.300", "0.001, 0.001", "0.010, -")
    assert.is_false(ok); assert.are.equal("cancelled", v.type)
  end)

  it("a client that stopped sending its body (unbuffered: 408, 400) gave up, as one that closed",
     function()
    -- proxy_request_buffering off: nginx was streaming the body to the
    -- upstream, connected, no answer yet, when the client stalled or left
    local ok, v, d = classify(408, "-", "1.002", "0.001", "-", 0, "127.0.0.1:8081")
    assert.is_false(ok); assert.are.equal("cancelled", v.type); assert.is_nil(v.status)
    assert.are.equal(1.002, d)
    ok, v = classify(400, "-", "0.303", "0.000", "-", 0, "127.0.0.1:8081")
    assert.is_false(ok); assert.are.equal("cancelled", v.type)
    -- an earlier try's failure is still the one recorded
    ok, v = classify(408, "502, -", "0.000, 1.000", "-, 0.001", "-, -", 0,
                     "127.0.0.1:8081, 127.0.0.1:8082")
    assert.is_false(ok); assert.are.equal("connection refused", v.type)
  end)

  it("no answer without a client abort is 'no live upstreams'", function()
    local ok, v = classify(502, "-", "-", "-", "-")
    assert.is_false(ok); assert.are.equal("no live upstreams", v.type); assert.are.equal(502, v.status)
  end)

  it("every server marked failed (502, never connected, $upstream_addr the group's name) is "
     .. "'no live upstreams'", function()
    -- what nginx 1.22 logs: the try's address is the upstream block's name, not a server's
    local ok, v = classify(502, "502", "0.000", "-", "-", 0, "backend")
    assert.is_false(ok); assert.are.equal("no live upstreams", v.type)
    assert.are.equal(502, v.status)
    -- the last try decides: refused by one server, then none left
    _, v = classify(502, "502, 502", "0.000, 0.000", "-, -", "-, -", 0, "127.0.0.1:8081, backend")
    assert.are.equal("no live upstreams", v.type)
    -- a server refusing, whatever its address's form, is a refusal
    for _, addr in ipairs({ "127.0.0.1:8081", "[::1]:8081", "unix:/run/app.sock" }) do
      _, v = classify(502, "502", "0.000", "-", "-", 0, addr)
      assert.are.equal("connection refused", v.type)
    end
    _, v = classify(502, "502, 502", "0.000, 0.000", "-, -", "-, -", 0, "backend, 127.0.0.1:8081")
    assert.are.equal("connection refused", v.type)
    -- the admission's own group's addresses are read
    _, v = classify(502, "500 : 502", "0.010 : 0.000", "0.001 : -", "0.010 : -", 1,
                    "127.0.0.1:8081 : backend")
    assert.are.equal("no live upstreams", v.type)
  end)

  it("no upstream at all is a result with the response's status and the clock's duration", function()
    local ok, v, d = classify(403, nil, nil, nil, nil)
    assert.is_true(ok); assert.are.equal(403, v); assert.is_nil(d)
  end)

  it("reads the admission's own upstream group, not one an error_page proxied to later", function()
    -- admitted with no group yet: the first group is the admission's
    local ok, v, d = classify(200, "500 : 200", "0.010 : 0.002", "0.001 : 0.001", "0.010 : 0.002", 0)
    assert.is_true(ok); assert.are.equal(500, v); assert.are.equal(0.010, d)
    -- admitted after one group (a redirect into a guarded location): the second
    ok, v, d = classify(200, "500 : 502, 200", "0.010 : 0.001, 0.004", "0.001 : -, 0.001", "0.010 : -, 0.004", 1)
    assert.is_true(ok); assert.are.equal(200, v); assert.is_true(math.abs(d - 0.005) < 1e-9)
    -- nothing after the admission
    ok, v, d = classify(503, "500", "0.010", "0.001", "0.010", 1)
    assert.is_true(ok); assert.are.equal(503, v); assert.is_nil(d)
  end)
end)

describe("fluxgate.nginx access() and log()", function()
  before_each(load_module)
  after_each(unload_module)

  it("admits in access and releases in log with the upstream's outcome", function()
    local cb = recorder()
    ngx_fake:request(0x1000, 10.5)
    assert.is_true(nginx.access(cb))
    assert.are.equal(1, nginx.stats().pending)
    ngx_fake.var = { upstream_status = "200", upstream_response_time = "0.250",
                     upstream_connect_time = "0.001", upstream_header_time = "0.200" }
    nginx.log()
    assert.are.equal(1, #cb.released)
    local r = cb.released[1]
    assert.is_true(r.ok); assert.are.equal(200, r.value); assert.are.equal(0.2, r.duration)
    assert.are.equal(1, r.token.n)
    assert.are.equal(0, nginx.stats().pending)
    nginx.log() -- a second log phase (a location's own log_by_lua and the server's)
    assert.are.equal(1, #cb.released)
    -- log() reads $upstream_addr for a 502: every server marked failed
    ngx_fake:request(0x1000, 11.5)
    assert.is_true(nginx.access(cb))
    ngx_fake.var = { upstream_status = "502", upstream_response_time = "0.000",
                     upstream_connect_time = "-", upstream_header_time = "-",
                     upstream_addr = "backend" }
    nginx.log()
    assert.are.equal("no live upstreams", cb.released[2].value.type)
  end)

  it("keeps the admission across an internal redirect (ngx.ctx is cleared, the request is not)", function()
    local cb = recorder()
    ngx_fake:request(0x2000, 11)
    nginx.access(cb)
    ngx_fake.ctx = {} -- what nginx does on error_page / ngx.exec
    ngx_fake.status = 200 -- the fallback's answer
    ngx_fake.var = { upstream_status = "500", upstream_response_time = "0.010",
                     upstream_connect_time = "0.001", upstream_header_time = "0.010" }
    assert.is_true(nginx.access(cb)) -- the target location guards with the same breaker
    assert.are.equal(1, cb.acquired)
    nginx.log()
    assert.are.equal(1, #cb.released)
    assert.is_true(cb.released[1].ok); assert.are.equal(500, cb.released[1].value)
  end)

  it("a redirect into another breaker's location settles the first admission first", function()
    local a, b = recorder(), recorder()
    ngx_fake:request(0x3000, 12)
    nginx.access(a)
    ngx_fake.var = { upstream_status = "502", upstream_response_time = "0.000",
                     upstream_connect_time = "-", upstream_header_time = "-" }
    nginx.access(b)
    assert.are.equal(1, #a.released)
    assert.are.equal("connection refused", a.released[1].value.type)
    ngx_fake.var = { upstream_status = "502 : 200", upstream_response_time = "0.000 : 0.030",
                     upstream_connect_time = "- : 0.001", upstream_header_time = "- : 0.030" }
    nginx.log()
    assert.are.equal(1, #b.released)
    assert.are.equal(200, b.released[1].value); assert.are.equal(0.03, b.released[1].duration)
  end)

  it("a later request at the same address never releases an earlier one's admission", function()
    local cb = recorder()
    ngx_fake:request(0x4000, 20)
    nginx.access(cb)          -- its log phase never comes
    ngx_fake:request(0x4000, 21)
    nginx.log()               -- another request, never admitted
    assert.are.equal(0, #cb.released)
    assert.are.equal(1, nginx.stats().stale)
    assert.are.equal(0, nginx.stats().pending)
  end)

  it("forgets admissions whose log phase never came after max_age, so nothing grows per request", function()
    local cb = recorder()
    nginx.configure({ max_age = 5 })
    for i = 1, 3000 do
      ngx_fake.clock = 1000 + i / 100 -- 100 requests a second
      ngx_fake:request(0x10000 + i * 64, ngx_fake.clock)
      nginx.access(cb)
    end
    local st = nginx.stats()
    -- at most the last max_age seconds (500) plus one sweep interval (1024) remain
    assert.is_true(st.pending <= 500 + 1024, "pending " .. st.pending)
    assert.are.equal(3000, st.pending + st.swept)
    assert.is_true(st.swept > 0)
  end)

  it("refuses a subrequest, whose log phase never runs", function()
    ngx_fake:request(0x5000, 30)
    ngx_fake.is_subrequest = true
    assert.has_error(function() nginx.access(recorder()) end)
  end)

  it("takes a family: anything with get(key)", function()
    local cbs = { a = recorder(), b = recorder() }
    local family = { get = function(_, key) return cbs[key] end }
    ngx_fake:request(0x6000, 40)
    nginx.access(family, "b")
    assert.are.equal(1, cbs.b.acquired); assert.are.equal(0, cbs.a.acquired)
    ngx_fake.var = { upstream_status = "200", upstream_response_time = "0.001" }
    nginx.log()
    assert.are.equal(1, #cbs.b.released)
    assert.has_error(function() nginx.access(recorder(), "key") end) -- a key but no get()
  end)

  it("takes a policy:family (a userdata) with a key, as it takes a shared family", function()
    local policy = assert(fluxgate.compile("breaker up { tripper = FailureStreak(1) }"))
    local fam = assert(policy:family("up"))
    ngx_fake:request(0x6200, 42)
    assert.is_true(nginx.access(fam, "host-a"))
    ngx_fake.var = { upstream_status = "502", upstream_response_time = "0.001",
                     upstream_connect_time = "-", upstream_header_time = "-" }
    ngx_fake.status = 502
    nginx.log()
    assert.are.equal("open", fam:state("host-a"))
    assert.are.equal(1, fam:size()) -- the one key, made by get
  end)

  it("a family given a nil key (an nginx variable not set yet) lets the request through and says why", function()
    for _, family in ipairs({ { get = function() error("get must not be called with nil") end },
                              assert(assert(fluxgate.compile("breaker up { }")):family("up")) }) do
      ngx_fake:request(0x6300, 43)
      ngx_fake.logged = {}
      assert.is_true(nginx.access(family, nil))
      assert.is_nil(ngx_fake.exited)
      assert.matches("the key is nil", ngx_fake.logged[1], 1, true)
      nginx.log() -- no admission: nothing to release
    end
  end)

  it("a family that has no breaker for the key lets the request through and says why", function()
    local family = { get = function() return nil, "family full" end }
    ngx_fake:request(0x6100, 41)
    assert.is_true(nginx.access(family, "k"))
    assert.is_nil(ngx_fake.exited)
    assert.matches("family full", ngx_fake.logged[1], 1, true)
  end)
end)

describe("fluxgate.nginx rejections", function()
  before_each(load_module)
  after_each(unload_module)

  it("answer 503 with Retry-After rounded up", function()
    ngx_fake:request(0x7000, 50)
    nginx.access(recorder(false))
    assert.are.equal(503, ngx_fake.exited)
    assert.are.equal(3, ngx_fake.header["Retry-After"])
    assert.are.equal(0, nginx.stats().pending)
  end)

  it("a real open breaker's retry_after reaches the header", function()
    local clock = { now = 100 }
    local cb = assert(fluxgate.breaker("nginx_reject", { tripper = "FailureStreak(1)", retry = "Cooldown(2.5s)",
                                                          clock = function() return clock.now end }))
    ngx_fake:request(0x7100, 51)
    nginx.access(cb)
    ngx_fake.var = { upstream_status = "504", upstream_response_time = "1.000",
                     upstream_connect_time = "0.001", upstream_header_time = "-" }
    ngx_fake.status = 504
    nginx.log()
    assert.are.equal("open", cb:state())
    clock.now = 101
    ngx_fake:request(0x7200, 52)
    nginx.access(cb)
    assert.are.equal(503, ngx_fake.exited)
    assert.are.equal(2, ngx_fake.header["Retry-After"]) -- 1.5 s left, rounded up
    cb:force_open()
    ngx_fake:request(0x7300, 53)
    nginx.access(cb)
    assert.are.equal(503, ngx_fake.exited)
    assert.is_nil(ngx_fake.header["Retry-After"]) -- forced open: no retry to announce
  end)

  it("status and handling are overridable, per call and by configure", function()
    ngx_fake:request(0x7400, 54)
    nginx.access(recorder(false), nil, { status = 429 })
    assert.are.equal(429, ngx_fake.exited)
    local seen
    ngx_fake:request(0x7500, 55)
    local r = nginx.access(recorder(false), nil, { on_reject = function(rej) seen = rej; return "fallback" end })
    assert.are.equal("fallback", r); assert.is_nil(ngx_fake.exited); assert.are.equal(2.2, seen.retry_after)
    nginx.configure({ status = 502 })
    ngx_fake:request(0x7600, 56)
    nginx.access(recorder(false))
    assert.are.equal(502, ngx_fake.exited)
  end)
end)

describe("fluxgate.nginx with a real breaker", function()
  before_each(load_module)
  after_each(unload_module)

  local function request(cb, addr, vars, status)
    ngx_fake:request(addr, addr)
    nginx.access(cb)
    ngx_fake.var, ngx_fake.status = vars, status
    nginx.log()
  end

  it("a client abort is ignored by a transport-and-5xx tracker, never a success", function()
    local cb = assert(fluxgate.breaker("nginx_abort", { tracker = 'TypeOf("timeout") | Status(500..599)' }))
    for i = 1, 3 do
      request(cb, 0x8000 + i, { upstream_status = "-", upstream_response_time = "0.200",
                                upstream_connect_time = "0.000", upstream_header_time = "-" }, 499)
    end
    assert.are.equal(0, cb:info().metrics.total_count)
    assert.matches('circuit_breaker_calls_total{circuit_name="nginx_abort",outcome="ignored"} 3',
                   fluxgate.prometheus(), 1, true)
    assert.matches('circuit_breaker_calls_total{circuit_name="nginx_abort",outcome="success"} 0',
                   fluxgate.prometheus(), 1, true)
  end)

  it("a slow client does not make a fast upstream slow: the duration is the upstream's", function()
    local clock = { now = 0 }
    local cb = assert(fluxgate.breaker("nginx_slow", { tripper = "MinRequests(1000) & SlowRate(50%, threshold = 1s)",
                                                        clock = function() return clock.now end }))
    ngx_fake:request(0x9000, 60)
    nginx.access(cb)
    clock.now = 5 -- the client took 5 s to read the answer
    ngx_fake.var = { upstream_status = "200", upstream_response_time = "0.100",
                     upstream_connect_time = "0.001", upstream_header_time = "0.050" }
    nginx.log()
    local m = cb:info().metrics
    assert.are.equal(1, m.total_count); assert.are.equal(0.05, m.total_duration)
    assert.are.equal(0, m.slow_counts[1])
    -- proxy_buffering off: nginx read the body from the upstream only as fast
    -- as the client took it, so the response time is the client's 5 s
    ngx_fake:request(0x9000, 70)
    nginx.access(cb)
    clock.now = 10
    ngx_fake.var = { upstream_status = "200", upstream_response_time = "5.000",
                     upstream_connect_time = "0.001", upstream_header_time = "0.050" }
    nginx.log()
    m = cb:info().metrics
    assert.are.equal(2, m.total_count); assert.are.equal(0.1, m.total_duration)
    assert.are.equal(0, m.slow_counts[1])
  end)
end)

describe("fluxgate.nginx.metrics()", function()
  before_each(load_module)
  after_each(unload_module)

  it("writes the exposition with its content type", function()
    local cb = assert(fluxgate.breaker("nginx_metrics"))
    -- the earlier tests' breakers, garbage now, must not be collected between
    -- the two expositions compared below (a series would differ)
    collectgarbage()
    collectgarbage()
    nginx.metrics()
    assert.are.equal("text/plain; version=0.0.4; charset=utf-8", ngx_fake.header["Content-Type"])
    local text = table.concat(ngx_fake.printed)
    assert.are.equal(fluxgate.prometheus(), text)
    assert.matches('circuit_breaker_state{circuit_name="nginx_metrics",state="closed"} 1', text, 1, true)
    assert.are.equal("nginx_metrics", cb.name)
  end)

  it("worker_label puts the worker's id on every series", function()
    local cb = assert(fluxgate.breaker("nginx_metrics_w"))
    nginx.metrics({ worker_label = true })
    local text, samples = table.concat(ngx_fake.printed), 0
    for line in text:gmatch("[^\n]+") do
      if line:sub(1, 1) ~= "#" then
        samples = samples + 1
        assert.matches('^[%w_]+{worker="1",circuit_name="', line)
      end
    end
    assert.is_true(samples >= 10)
    assert.are.equal("nginx_metrics_w", cb.name)
  end)
end)
