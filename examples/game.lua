--[[
examples/game.lua -- fluxgate in a game loop: a 20 Hz tick clock, a seed
for determinism, player coroutines that yield inside fam:call while their
request is "on the network", one breaker per player (a family), listeners
that see each player's transitions, the metrics a server would scrape, and
a breaker written into a save file and restored in the next session.

  lua5.4 examples/game.lua [policies/game.fgp]     (or luajit)

The output is the same on every run and on both interpreters (make test
compares it with examples/game.expected): the game's time is the tick
count, and the breakers' random draws (the jitter of their retry delays,
the ramp-up of their probes) come from a seeded generator.
]]
local fluxgate = require("fluxgate")

local policy = assert(fluxgate.load(arg and arg[1] or "policies/game.fgp"))

-- The game's clock: 20 ticks a second. Breakers read time only through it,
-- so a replay (or a paused game) is seen exactly as it was played.
local TICK_RATE = 20
local tick = 0
local function game_time() return tick / TICK_RATE end

-- One breaker per player for matchmaking: made on first use, evicted when a
-- player has been idle for 5 minutes of game time (never while open).
local log = {}
local matchmaking = assert(policy:family("matchmaking", {
  clock = game_time,
  seed = 2024, -- the same jitter and ramp-up in every run
  idle = 300,
  max_keys = 10000,
  listeners = {
    function(s)
      log[#log + 1] = string.format("t=%6.2f  %-8s %s -> %s", s.timestamp, s.key, s.old_state, s.new_state)
    end,
  },
}))

-- The backend is down from 2 s to 8 s of game time.
local function backend_down() return tick >= 2 * TICK_RATE and tick < 8 * TICK_RATE end

-- A matchmaking request: it waits 3 ticks for the network (the coroutine
-- yields inside fam:call, the breaker keeps its ticket meanwhile), then
-- answers -- or times out, as `nil, err` (the Lua convention, counted as a
-- failure by the policy's TypeOf("timeout")).
local function find_match(player)
  for _ = 1, 3 do coroutine.yield() end
  if backend_down() then return nil, { type = "timeout", message = "matchmaking timed out" } end
  return { status = 200, lobby = "lobby-" .. player }
end

local stats = {}

local function player_loop(name)
  stats[name] = { matched = 0, failed = 0, rejected = 0 }
  while true do
    local match, err = matchmaking:call(name, find_match, name)
    local st = stats[name]
    if match then
      st.matched = st.matched + 1
    elseif fluxgate.is_rejection(err) then
      -- the breaker answered at once: play offline until it may let us in
      st.rejected = st.rejected + 1
      for _ = 1, math.max(1, math.floor((err.retry_after or 1) * TICK_RATE)) do coroutine.yield() end
    else
      st.failed = st.failed + 1
    end
    coroutine.yield()
  end
end

local PLAYERS = { "ada", "bo", "cy" }
local threads = {}
for i, name in ipairs(PLAYERS) do
  threads[i] = coroutine.create(player_loop)
  assert(coroutine.resume(threads[i], name))
end

-- The game loop: 30 s of game time.
for t = 1, 30 * TICK_RATE do
  tick = t
  for _, co in ipairs(threads) do assert(coroutine.resume(co)) end
  if t % (5 * TICK_RATE) == 0 then
    local states = {}
    for _, name in ipairs(PLAYERS) do states[#states + 1] = name .. "=" .. matchmaking:state(name) end
    log[#log + 1] = string.format("t=%6.2f  %s", game_time(), table.concat(states, " "))
  end
end

print("transitions and states:")
for _, line in ipairs(log) do print("  " .. line) end
print("per player (matched / failed / rejected):")
for _, name in ipairs(PLAYERS) do
  local s = stats[name]
  print(string.format("  %-4s %3d / %d / %d", name, s.matched, s.failed, s.rejected))
end
local info = matchmaking:get("ada"):info()
print(string.format("ada's breaker: %s, %d reopens, %d successes, %d failures, %d rejected, clock %s",
                    info.state, info.reopens, info.counters.success, info.counters.failure,
                    info.counters.rejected, info.clock))

-- What a server would scrape: one aggregate per family, whatever its keys.
print("metrics:")
for line in fluxgate.prometheus():gmatch("[^\n]+") do
  if line:find('circuit_name="matchmaking"', 1, true) and not line:find(" 0$") then print("  " .. line) end
end
matchmaking:close()

-- Snapshots in save files: the store breaker opens during a session; the
-- save file keeps its state (cb:snapshot(): a string, the same on every
-- interpreter and machine), and the next session -- whose clock starts at
-- 0 again -- restores it into a fresh breaker: times are kept relative to
-- the clock, so the cooldown left at the save is what is left after the load.
local function purchase_fails() return nil, { type = "timeout", message = "store timed out" } end
local function purchase() return { status = 200 } end
local store = assert(policy:breaker("store", { clock = game_time, seed = 7 }))
for _ = 1, 5 do store:call(purchase_fails) end -- FailureStreak(5): open
local opened_at = game_time()
tick = tick + 4 * TICK_RATE -- the player saves 4 s later
local _, r = store:call(purchase)
print(string.format("save file: store %s since t=%.2f, saved at t=%.2f with %.2f s of cooldown left",
                    store:state(), opened_at, game_time(), r.retry_after))
local save = store:snapshot() -- write this string into the save file
store:close()

tick = 0 -- the next session
local loaded = assert(policy:breaker("store", { clock = game_time, seed = 7 }))
assert(loaded:restore(save))
_, r = loaded:call(purchase)
print(string.format("save loaded at t=%.2f: store %s, %.2f s of cooldown left", game_time(), loaded:state(),
                    r.retry_after))
tick = tick + math.floor(r.retry_after * TICK_RATE + 0.5) - 1
_, r = loaded:call(purchase)
print(string.format("t=%.2f: a purchase is rejected, %.2f s left", game_time(), r.retry_after))
tick = tick + 1
local over_at = game_time()
local probe_at -- half_open: the permit, RampUp, lets a share of purchases through
for _ = 1, 60 * TICK_RATE do
  if loaded:call(purchase) then probe_at = game_time(); break end
  tick = tick + 1
end
print(string.format("t=%.2f: the cooldown is over; the first purchase goes through at t=%.2f, store %s",
                    over_at, probe_at or -1, loaded:state()))
loaded:close()
