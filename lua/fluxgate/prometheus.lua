--[[
fluxgate/prometheus.lua -- the text exposition (format 0.0.4) of a set of
live breakers, with fluxgate's series names: circuit_breaker_state,
circuit_breaker_state_transition_total and circuit_breaker_calls_total.
Breakers sharing a name add up; each state gauge counts how many are in it.
]]
local core = require("fluxgate.core")

local pcall, pairs, ipairs, format, concat, sort = pcall, pairs, ipairs, string.format, table.concat, table.sort
local STATES = core.STATES
local STATE_COUNT = 0
while STATES[STATE_COUNT] do STATE_COUNT = STATE_COUNT + 1 end


local function label(v)
  return (v:gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

local OUTCOMES = { "success", "failure", "ignored", "rejected" }

-- The exposition of every breaker userdata that is a key of live.
return function(live)
  local uds = {}
  for ud in pairs(live) do uds[#uds + 1] = ud end
  local groups, names = {}, {}
  for i = 1, #uds do
    local ok, name, st, success, failure, ignored, rejected, transitions = pcall(core.stats, uds[i])
    if ok then -- a closed breaker raises: it is no longer exported
      local g = groups[name]
      if not g then
        g = { states = {}, calls = { 0, 0, 0, 0 }, transitions = {} }
        for s = 0, STATE_COUNT - 1 do g.states[s] = 0 end
        for k = 1, STATE_COUNT * STATE_COUNT do g.transitions[k] = 0 end
        groups[name] = g
        names[#names + 1] = name
      end
      g.states[st] = g.states[st] + 1
      local calls = g.calls
      calls[1], calls[2] = calls[1] + success, calls[2] + failure
      calls[3], calls[4] = calls[3] + ignored, calls[4] + rejected
      for k = 1, #transitions do g.transitions[k] = g.transitions[k] + transitions[k] end
    end
  end
  sort(names)
  local out = {
    "# HELP circuit_breaker_state Circuit breaker state: the number of breakers of this name in each state.",
    "# TYPE circuit_breaker_state gauge",
  }
  for _, name in ipairs(names) do
    local n, states = label(name), groups[name].states
    for s = 0, STATE_COUNT - 1 do
      out[#out + 1] = format('circuit_breaker_state{circuit_name="%s",state="%s"} %d', n, STATES[s], states[s])
    end
  end
  out[#out + 1] = "# HELP circuit_breaker_state_transition_total Transitions between circuit breaker states."
  out[#out + 1] = "# TYPE circuit_breaker_state_transition_total counter"
  for _, name in ipairs(names) do
    local n, transitions = label(name), groups[name].transitions
    for from = 0, STATE_COUNT - 1 do
      for to = 0, STATE_COUNT - 1 do
        local count = transitions[from * STATE_COUNT + to + 1]
        if count > 0 then
          out[#out + 1] = format('circuit_breaker_state_transition_total{circuit_name="%s",old_state="%s",new_state="%s"} %d',
                                 n, STATES[from], STATES[to], count)
        end
      end
    end
  end
  out[#out + 1] = "# HELP circuit_breaker_calls_total Calls through circuit breakers by outcome."
  out[#out + 1] = "# TYPE circuit_breaker_calls_total counter"
  for _, name in ipairs(names) do
    local n, calls = label(name), groups[name].calls
    for k = 1, #OUTCOMES do
      out[#out + 1] = format('circuit_breaker_calls_total{circuit_name="%s",outcome="%s"} %d', n, OUTCOMES[k], calls[k])
    end
  end
  out[#out + 1] = ""
  return concat(out, "\n")
end

