--[[
fluxgate/prometheus.lua -- the text exposition (format 0.0.4) of every
breaker by name, with fluxgate's series names: circuit_breaker_state,
circuit_breaker_state_transition_total and circuit_breaker_calls_total.
Breakers sharing a name add up; each state gauge counts how many are in it
(names whose breakers are all closed or collected keep their counters but
have no state gauge). Families add their aggregates to their name's
counters and count their keys per state in circuit_breaker_family_state;
a metrics = "per_key" family also has key-labelled state and call series.
]]
local core = require("fluxgate.core")

local ipairs, pairs, format, concat, sort = ipairs, pairs, string.format, table.concat, table.sort
local STATES = core.STATES
local STATE_COUNT = 0
while STATES[STATE_COUNT] do STATE_COUNT = STATE_COUNT + 1 end

local function label(v)
  return (v:gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

local OUTCOMES = { "success", "failure", "ignored", "rejected" }

-- The lines of a per-state gauge: series{labels,state="..."} counts[s + 1]
-- (nil counts 0), one per state in order.
local function state_lines(out, series, labels, counts)
  for s = 0, STATE_COUNT - 1 do
    out[#out + 1] = format('%s{%s,state="%s"} %d', series, labels, STATES[s], counts[s + 1] or 0)
  end
end

-- The lines of circuit_breaker_calls_total for one set of labels, one per
-- outcome in order: counts[k] (nil counts 0).
local function call_lines(out, labels, counts)
  for k = 1, #OUTCOMES do
    out[#out + 1] = format('circuit_breaker_calls_total{%s,outcome="%s"} %d', labels, OUTCOMES[k], counts[k] or 0)
  end
end

-- The exposition of core.stats()'s groups: name -> { counts, states }.
return function(groups)
  local names = {}
  for name in pairs(groups) do names[#names + 1] = name end
  sort(names)
  local out = {
    "# HELP circuit_breaker_state Circuit breaker state: the number of breakers of this name in each state.",
    "# TYPE circuit_breaker_state gauge",
  }
  for _, name in ipairs(names) do
    local states = groups[name].states
    if states then state_lines(out, "circuit_breaker_state", 'circuit_name="' .. label(name) .. '"', states) end
    local keys = groups[name].keys -- a metrics = "per_key" family's keys
    if keys then
      local n = label(name)
      for _, k in ipairs(keys) do
        -- 1 for the key's state, 0 for the others
        state_lines(out, "circuit_breaker_state", 'circuit_name="' .. n .. '",key="' .. label(k.key) .. '"',
                    { [k.state + 1] = 1 })
      end
    end
  end
  out[#out + 1] = "# HELP circuit_breaker_family_state Keys of the families of this name in each state."
  out[#out + 1] = "# TYPE circuit_breaker_family_state gauge"
  for _, name in ipairs(names) do
    local states = groups[name].family_states
    if states then state_lines(out, "circuit_breaker_family_state", 'circuit_name="' .. label(name) .. '"', states) end
  end
  out[#out + 1] = "# HELP circuit_breaker_state_transition_total Transitions between circuit breaker states."
  out[#out + 1] = "# TYPE circuit_breaker_state_transition_total counter"
  for _, name in ipairs(names) do
    local n, counts = label(name), groups[name].counts
    for from = 0, STATE_COUNT - 1 do
      for to = 0, STATE_COUNT - 1 do
        local count = counts[5 + from * STATE_COUNT + to]
        if count and count > 0 then
          out[#out + 1] = format('circuit_breaker_state_transition_total{circuit_name="%s",old_state="%s",new_state="%s"} %d',
                                 n, STATES[from], STATES[to], count)
        end
      end
    end
  end
  out[#out + 1] = "# HELP circuit_breaker_calls_total Calls through circuit breakers by outcome."
  out[#out + 1] = "# TYPE circuit_breaker_calls_total counter"
  for _, name in ipairs(names) do
    local n = label(name)
    call_lines(out, 'circuit_name="' .. n .. '"', groups[name].counts)
    for _, key in ipairs(groups[name].keys or {}) do
      call_lines(out, 'circuit_name="' .. n .. '",key="' .. label(key.key) .. '"', key.counts)
    end
  end
  out[#out + 1] = ""
  return concat(out, "\n")
end
