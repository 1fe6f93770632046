--[[
fluxgate/outcome.lua -- how the Lua binding reads a call's outcome from Lua
values (SPEC.md section 7), and the rejection value. Pure functions, shared
by both engine paths of lua/fluxgate.lua.
]]
local type, tostring, pcall, setmetatable, getmetatable = type, tostring, pcall, setmetatable, getmetatable

local O = {}

-- A number usable as an outcome status, or nil.
function O.as_status(v)
  if type(v) == "number" and v > -9e18 and v < 9e18 then return v end
  return nil
end

function O.status_of(v)
  if type(v) == "table" then return O.as_status(v.status) end
  return nil
end

-- A string error's type: the message without Lua's "chunk:line: " prefix.
local function strip_position(s)
  local rest = s:match('^%[string ".-"%]:%d+: (.*)$') or s:match("^[^:\n]+:%d+: (.*)$")
  return rest or s
end

local function fields_of(e)
  local t = type(e)
  if t == "string" then return strip_position(e), e, nil end
  if t ~= "table" then return nil, tostring(e), nil end
  local ty = e.type
  if type(ty) ~= "string" then
    ty = e.name
    if type(ty) ~= "string" then ty = nil end
  end
  local msg = e.message
  if msg == nil then msg = e.msg end
  if type(msg) == "number" then msg = tostring(msg)
  elseif type(msg) ~= "string" then msg = tostring(e) end
  return ty, msg, O.status_of(e)
end

-- type, message and status of an error value. A hostile error value (an
-- __index or __tostring that raises) must not keep the call from being
-- released, so extraction is protected.
function O.error_fields(e)
  local ok, ty, msg, status = pcall(fields_of, e)
  if ok then return ty, msg, status end
  return nil, nil, nil
end

-- rejections

local Rejection = {}
Rejection.__index = Rejection
function Rejection.__tostring(r)
  return "circuit breaker '" .. tostring(r.breaker) .. "' is " .. tostring(r.state)
end
function Rejection.__concat(a, b) return tostring(a) .. tostring(b) end

function O.rejection(name, state, retry_after)
  local text = "circuit breaker '" .. name .. "' is " .. state
  return setmetatable({ type = "CallNotPermitted", message = text, breaker = name,
                        state = state, retry_after = retry_after }, Rejection)
end

function O.is_rejection(v) return getmetatable(v) == Rejection end

return O
