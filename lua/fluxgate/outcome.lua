--[[
fluxgate/outcome.lua -- the outcome rules of SPEC.md section 7 in Lua, for
the LuaJIT FFI path (lua/fluxgate/ffi_path.lua), and the rejection value.
The classic C API reads outcomes in C (lua/fluxgate_outcome.c);
tests/lua/outcome_rules_spec.lua holds the two to the same answers.

Every read that could run a user's Lua code (an __index, a __tostring) is
protected: a hostile value makes the field absent, never makes a call raise.
]]
local type, tostring, pcall, setmetatable, getmetatable, rawget =
  type, tostring, pcall, setmetatable, getmetatable, rawget

local O = {}

local floor, ceil = math.floor, math.ceil

-- A number usable as an outcome status (its integer part, as the engine's
-- int64 status holds it), or nil.
local function as_status(v)
  if type(v) == "number" and v > -9e18 and v < 9e18 then
    if v >= 0 then return floor(v) end
    return ceil(v)
  end
  return nil
end
O.as_status = as_status

local function get_status(t) return t.status end

-- The status of a table result (t.status, read so that it cannot raise).
local function table_status(t)
  if getmetatable(t) == nil then return as_status(rawget(t, "status")) end
  local ok, s = pcall(get_status, t)
  if ok then return as_status(s) end
  return nil
end

-- The status of a call's first result: a table's `status` field.
function O.result_status(v)
  if type(v) == "table" then return table_status(v) end
  return nil
end

-- The status of a released result: a number's own value, or a table's field.
function O.release_status(v)
  if type(v) == "table" then return table_status(v) end
  return as_status(v)
end

-- A string error's type: the message without Lua's "chunk:line: " prefix,
-- which ends at the first ": " (a chunk name may hold ':', as OpenResty's
-- 'content_by_lua(nginx.conf:10)' does, but not ": "); as in C
-- (fgl_position_length in lua/fluxgate_outcome.c).
local function strip_position(s)
  local rest = s:match('^%[string ".-"%]:%d+: (.*)$')
  if rest then return rest end
  local head, tail = s:match("^([^\n]-): (.*)$")
  if head and head:find("^.+:%d+$") then return tail end
  return s
end

local function fields_of(e)
  if type(e) ~= "table" then return nil, tostring(e), nil end
  local ty = e.type
  if type(ty) ~= "string" then
    ty = e.name
    if type(ty) ~= "string" then ty = nil end
  end
  local msg = e.message
  if msg == nil then msg = e.msg end
  if type(msg) == "number" then msg = tostring(msg)
  elseif type(msg) ~= "string" then msg = tostring(e) end
  return ty, msg, as_status(e.status)
end

-- type, message and status of an error value.
function O.error_fields(e)
  if type(e) == "string" then return strip_position(e), e, nil end
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
