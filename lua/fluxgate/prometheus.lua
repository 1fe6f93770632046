--[[
fluxgate/prometheus.lua -- the text exposition (format 0.0.4) of every
breaker by name, with fluxgate's series names: circuit_breaker_state,
circuit_breaker_state_transition_total and circuit_breaker_calls_total.
Breakers sharing a name add up; each state gauge counts how many are in it
(names whose breakers are all closed or collected keep their counters but
have no state gauge). Families add their aggregates to their name's
counters and count their keys per state in circuit_breaker_family_state;
a metrics = "per_key" family also has key-labelled state and call series
(in key order, so the same metrics are always written alike).
]]
local core = require("fluxgate.core")

local ipairs, pairs, format, concat, sort = ipairs, pairs, string.format, table.concat, table.sort
local byte, sub, find, gsub = string.byte, string.sub, string.find, string.gsub
local STATES = core.STATES
local STATE_COUNT = 0
while STATES[STATE_COUNT] do STATE_COUNT = STATE_COUNT + 1 end

-- The length of the well-formed UTF-8 sequence at v[i] (strict: no
-- overlongs, surrogates or code points past U+10FFFF), or nil.
local function utf8_at(v, i)
  local c = byte(v, i)
  if c < 0x80 then return 1 end
  local n, lo, hi = 0, 0x80, 0xBF -- continuation bytes; lo/hi bound the first
  if c >= 0xC2 and c <= 0xDF then n = 1
  elseif c >= 0xE0 and c <= 0xEF then
    n = 2
    if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
  elseif c >= 0xF0 and c <= 0xF4 then
    n = 3
    if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
  else return nil end
  for k = 1, n do
    local d = byte(v, i + k)
    if d == nil or d < (k == 1 and lo or 0x80) or d > (k == 1 and hi or 0xBF) then return nil end
  end
  return n + 1
end

-- v with each byte that starts no well-formed UTF-8 sequence written as the
-- text \xHH: family keys are any bytes, and one key that is not UTF-8 would
-- make the whole exposition invalid (Prometheus would refuse the scrape).
-- Text rather than U+FFFD, so that two binary keys stay two series. A
-- backslash that already starts such a text in v is written \x5C, so that
-- no two keys are written alike: the binary key "\255" is \xFF and the text
-- key "\\xFF" is \x5CxFF (the same series twice would fail the scrape too).
local function utf8_only(v)
  if not find(v, "[\128-\255]") and not find(v, "\\x%x%x") then return v end
  local out, i, n = {}, 1, #v
  while i <= n do
    local len = utf8_at(v, i)
    if len == 1 and find(v, "^\\x%x%x", i) then
      out[#out + 1] = "\\x5C"
      i = i + 1
    elseif len then
      out[#out + 1] = sub(v, i, i + len - 1)
      i = i + len
    else
      out[#out + 1] = format("\\x%02X", byte(v, i))
      i = i + 1
    end
  end
  return concat(out)
end

-- A label value escaped per 0.0.4 (backslash, quote, newline). Breaker
-- names are written as they are: the binding refuses names that are not
-- UTF-8 or hold a NUL (fluxgate_name.c), and circuit_name must be the name
-- dashboards and alerts know (the name `C:\x41` is not `C:\x5Cx41`).
local function label(v)
  return (gsub(v, '[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- A family key as a label value: any bytes, made UTF-8 first (utf8_only).
local function key_label(v)
  return label(utf8_only(v))
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

local function by_key(a, b) return a.key < b.key end

-- The exposition of core.stats()'s groups: name -> { counts, states }.
return function(groups)
  local names = {}
  for name in pairs(groups) do names[#names + 1] = name end
  sort(names)
  -- Key-labelled series in key order, as names are: the list comes most
  -- recently used first, family after family in the order of a table
  -- keyed by the families (their addresses), so the same metrics would be
  -- written in another order from scrape to scrape and run to run.
  for _, name in ipairs(names) do
    local keys = groups[name].keys
    if keys then sort(keys, by_key) end
  end
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
        -- the key's breakers per state (1 for its state, 0 for the others,
        -- unless families of one name share the key)
        state_lines(out, "circuit_breaker_state", 'circuit_name="' .. n .. '",key="' .. key_label(k.key) .. '"', k.states)
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
      call_lines(out, 'circuit_name="' .. n .. '",key="' .. key_label(key.key) .. '"', key.counts)
    end
  end
  out[#out + 1] = ""
  return concat(out, "\n")
end
