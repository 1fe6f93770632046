-- bench/pure_breaker.lua -- a minimal circuit breaker in plain Lua, the
-- baseline `make bench` holds fluxgate's Lua binding against. Written for
-- this benchmark: the same rule as the benchmark's fluxgate breaker --
-- a TimeWindow(10) of 1-second buckets, trip on MinRequests(20) &
-- FailureRate(51%), a 60 s cooldown, one probe in half-open -- with its own
-- pcall around fn. Runs under Lua 5.4 and LuaJIT.
--   local pure = dofile("bench/pure_breaker.lua")
--   local cb = pure.new(clock)      -- clock() -> seconds (monotonic)
--   cb:call(fn, ...)  cb:acquire() -> ok  cb:release(ok)  cb:call_with_fallback(fn, fb, ...)
local floor, pcall, error = math.floor, pcall, error

local WINDOW, MIN_REQUESTS, FAILURE_RATE, COOLDOWN = 10, 20, 0.51, 60

local Breaker = {}
Breaker.__index = Breaker

local P = {}

function P.new(clock)
  local totals, failures = {}, {}
  for i = 1, WINDOW do totals[i], failures[i] = 0, 0 end
  return setmetatable({ clock = clock, state = "closed", opened_at = 0, probing = false,
                        totals = totals, failures = failures, sum_total = 0, sum_failed = 0,
                        second = 0 }, Breaker)
end

-- Drops the buckets of the seconds that passed since the last record.
local function advance(self, second)
  local last = self.second
  if second == last then return end
  local totals, failures = self.totals, self.failures
  local gap = second - last
  if gap >= WINDOW or gap < 0 then
    for i = 1, WINDOW do totals[i], failures[i] = 0, 0 end
    self.sum_total, self.sum_failed = 0, 0
  else
    for s = last + 1, second do
      local i = s % WINDOW + 1
      self.sum_total = self.sum_total - totals[i]
      self.sum_failed = self.sum_failed - failures[i]
      totals[i], failures[i] = 0, 0
    end
  end
  self.second = second
end

local function clear(self)
  for i = 1, WINDOW do self.totals[i], self.failures[i] = 0, 0 end
  self.sum_total, self.sum_failed = 0, 0
end

-- Admits a call: true, or false when open.
function Breaker:acquire()
  local state = self.state
  if state == "closed" then return true end
  if state == "open" then
    if self.clock() - self.opened_at < COOLDOWN then return false end
    self.state, self.probing = "half_open", false
  end
  if self.probing then return false end
  self.probing = true
  return true
end

function Breaker:release(ok)
  local state = self.state
  if state == "half_open" then
    self.probing = false
    if ok then self.state = "closed"; clear(self)
    else self.state, self.opened_at = "open", self.clock(); clear(self) end
    return
  end
  if state ~= "closed" then return end
  local now = self.clock()
  advance(self, floor(now))
  local i = self.second % WINDOW + 1
  self.totals[i] = self.totals[i] + 1
  self.sum_total = self.sum_total + 1
  if not ok then
    self.failures[i] = self.failures[i] + 1
    self.sum_failed = self.sum_failed + 1
    if self.sum_total >= MIN_REQUESTS and self.sum_failed / self.sum_total >= FAILURE_RATE then
      self.state, self.opened_at = "open", now
      clear(self)
    end
  end
end

local function settle(self, ok, ...)
  self:release(ok and not (... == nil and select(2, ...) ~= nil))
  if not ok then error((...), 0) end
  return ...
end

function Breaker:call(fn, ...)
  if not self:acquire() then return nil, "open" end
  return settle(self, pcall(fn, ...))
end

local function settle_fallback(self, fallback, ok, ...)
  local failed = not ok or (... == nil and select(2, ...) ~= nil)
  self:release(not failed)
  if failed then return fallback(ok and select(2, ...) or (...)) end
  return ...
end

function Breaker:call_with_fallback(fn, fallback, ...)
  if not self:acquire() then return fallback("open") end
  return settle_fallback(self, fallback, pcall(fn, ...))
end

-- CountWindow(10) variant for the memory line: the last 10 outcomes.
local Counted = {}
Counted.__index = Counted
function P.new_count_window(n)
  local ring = {}
  for i = 1, n do ring[i] = false end
  return setmetatable({ state = "closed", ring = ring, pos = 0, size = n, failed = 0, total = 0 }, Counted)
end

return P
