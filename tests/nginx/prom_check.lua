--[[
prom_check.lua -- a strict reader of the Prometheus text exposition, format
0.0.4 (tests/nginx/run.sh runs it on every scrape):

  luajit tests/nginx/prom_check.lua FILE...    prints one line per problem; exit 1 if any

What it holds a scrape to: every line a HELP, TYPE or sample line; metric
and label names as the format spells them; label values with only the
escapes \\ \" \n; no label named twice in a sample; at most one HELP and one
TYPE per metric, the TYPE before its samples; a metric's samples in one
group (not interleaved with another metric's); no series twice (the same
name and label set, in any order); values that are numbers; the text ends
with a newline.
]]
local problems = 0

local function check(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local function bad(n, why, line)
    problems = problems + 1
    io.write(string.format("%s:%d: %s: %s\n", path, n, why, (line or ""):sub(1, 160)))
  end
  if text ~= "" and text:sub(-1) ~= "\n" then bad(0, "does not end with a newline") end
  local help, typ, seen_samples, series = {}, {}, {}, {}
  local current -- the metric whose samples come now
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    local kind, name, rest = line:match("^# (%u+) ([%a_:][%w_:]*) (.*)$")
    if kind == "HELP" then
      if help[name] then bad(n, "a second HELP for " .. name, line) end
      help[name] = true
    elseif kind == "TYPE" then
      if typ[name] then bad(n, "a second TYPE for " .. name, line) end
      if seen_samples[name] then bad(n, "TYPE after samples of " .. name, line) end
      if not ({ counter = 1, gauge = 1, histogram = 1, summary = 1, untyped = 1 })[rest] then
        bad(n, "unknown type", line)
      end
      typ[name] = true
    elseif line:sub(1, 1) == "#" then
      bad(n, "a comment that is neither HELP nor TYPE", line)
    else
      local mname, after = line:match("^([%a_:][%w_:]*)(.*)$")
      if not mname then
        bad(n, "not a sample line", line)
      else
        local labels, at = {}, 1
        if after:sub(1, 1) == "{" then
          at = 2
          while true do
            if after:sub(at, at) == "}" then at = at + 1; break end
            local lname, e = after:match('^([%a_][%w_]*)="()', at)
            if not lname then bad(n, "a malformed label", line); labels = nil; break end
            local value, i = {}, e
            while true do
              local c = after:sub(i, i)
              if c == "" then bad(n, "an unterminated label value", line); labels = nil; break end
              if c == '"' then break end
              if c == "\\" then
                local d = after:sub(i + 1, i + 1)
                if d ~= "\\" and d ~= '"' and d ~= "n" then bad(n, "an escape other than \\\\ \\\" \\n", line) end
                value[#value + 1] = c .. d
                i = i + 2
              else
                value[#value + 1] = c
                i = i + 1
              end
            end
            if not labels then break end
            if labels[lname] then bad(n, "label " .. lname .. " twice", line) end
            labels[lname] = table.concat(value)
            at = i + 1
            local sep = after:sub(at, at)
            if sep == "," then at = at + 1 elseif sep ~= "}" then bad(n, "a malformed label list", line); labels = nil; break end
          end
        end
        if labels then
          local value = after:sub(at):match("^ (%S+)$") or after:sub(at):match("^ (%S+) %-?%d+$")
          if not value or not (tonumber(value) or value == "NaN" or value == "+Inf" or value == "-Inf") then
            bad(n, "no number after the labels", line)
          end
          if current ~= mname then
            if seen_samples[mname] then bad(n, "the samples of " .. mname .. " are not in one group", line) end
            current = mname
          end
          seen_samples[mname] = true
          local keys = {}
          for k, v in pairs(labels) do keys[#keys + 1] = k .. "=" .. v end
          table.sort(keys)
          local id = mname .. "{" .. table.concat(keys, ",") .. "}"
          if series[id] then bad(n, "a series twice: " .. id, line) end
          series[id] = true
        end
      end
    end
  end
end

for _, path in ipairs(arg) do check(path) end
os.exit(problems == 0 and 0 or 1)
