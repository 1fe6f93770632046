--[[
examples/game.lua -- fluxgate in a game loop: a 20 Hz tick clock, a seed
for determinism, player coroutines that yield inside fam:call while their
request is "on the network", one breaker per player (a family), listeners
that see each player's transitions, and the metrics a server would scrape.

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

-- Snapshots in save files: a breaker's state written into the save and
-- restored when the save is loaded (the flat-state work's cb:snapshot()).
-- Enable it when your build has cb:snapshot / cb:restore; make test's
-- expected output is the one without it.
local WITH_SNAPSHOTS = false
local store = assert(policy:breaker("store", { clock = game_time, seed = 7 }))
if WITH_SNAPSHOTS and store.snapshot then
  local save = store:snapshot() -- a string: write it into the save file
  local loaded = assert(policy:breaker("store", { clock = game_time, seed = 7 }))
  assert(loaded:restore(save))
  print("save file: the store breaker restored as " .. loaded:state())
end

-- What a server would scrape: one aggregate per family, whatever its keys.
print("metrics:")
for line in fluxgate.prometheus():gmatch("[^\n]+") do
  if line:find('circuit_name="matchmaking"', 1, true) and not line:find(" 0$") then print("  " .. line) end
end
matchmaking:close()
