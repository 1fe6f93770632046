--[[
fluxgate/delivery.lua -- transitions delivered to Lua listeners: each
listener gets an object's transitions in sequence order, each once. A
listener that uses the object (cb:reset() on closed->open) causes more:
they are queued and delivered by the drain already running once every
listener has had the current one. Breakers (fluxgate.lua) and families
(fluxgate/family.lua) share it.

  local delivery = require("fluxgate.delivery")(report)
  delivery.make_drain(kind, name_of, c_drain_of, c_env_of) -> drain(self)
  delivery.add_listener(env, fn)

report(msg) is how a failing listener or a parked callback error is told
(fluxgate.lua's report: ngx.log or stderr).
]]
local type, error, pcall, tostring, setmetatable, rawget =
  type, error, pcall, tostring, setmetatable, rawget
local format = string.format
local core = require("fluxgate.core")
local running, in_frame = core.running, core.in_frame

local ENV_LISTENERS = 3 -- the listeners' slot in an object's environment (FGL_ENV_LISTENERS)

return function(report)
  local WEAK_V = { __mode = "v" }

  -- An error value as text for a report. Its __tostring is the user's code:
  -- if that raises too, the report must still be made (and must not raise
  -- out of the drain, which would drop the other listeners and signals).
  local function describe(e)
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
    return "(a " .. type(e) .. " error value whose __tostring failed)"
  end

  -- Whether a drain of this object is under way (in this or a suspended
  -- coroutine: a listener that yields holds later deliveries until resumed;
  -- one whose coroutine is gone releases them). The mark is believed only
  -- while the drain that set it is on its thread's stack (core.in_frame):
  -- an error that unwound the drain before it cleared its mark (a debug
  -- hook, a memory error) must not hold every later delivery for good.
  local function draining(env, self, drain)
    local holder = rawget(env, "draining")
    if holder == nil then return false end
    local co = holder[1]
    if co ~= nil and in_frame(co, drain, self) then return true end
    env.draining = nil -- its coroutine was collected or is dead, or an error unwound the drain
    return false
  end

  -- The drain of one kind of object, for breakers here and for families
  -- (fluxgate/family.lua): kind ("breaker", "family") names it in reports,
  -- name_of(self) is its name, c_drain_of and c_env_of its core functions.
  -- The drain hands queued transitions to the listeners and reports parked
  -- callback errors; it is called after every engine call that left
  -- something pending.
  local function make_drain(kind, name_of_self, c_drain_of, c_env_of)
    local function deliver(self, env)
      local name = name_of_self(self)
      while true do
        local signals, err, lost = c_drain_of(self, true)
        if err ~= nil then report(format("fluxgate: %s '%s': %s", kind, name, describe(err))) end
        if lost > 0 then
          report(format("fluxgate: %s '%s': %d transitions were not delivered (out of memory)", kind, name, lost))
        end
        if signals == nil then return end
        local listeners = env[ENV_LISTENERS]
        for i = 1, #signals do
          local signal = signals[i]
          signal.breaker = name
          for j = 1, #listeners do
            local ok, e = pcall(listeners[j], signal)
            if not ok then
              report(format("fluxgate: %s '%s': a listener failed: %s", kind, name, describe(e)))
            end
          end
        end
      end
    end

    local drain
    drain = function(self)
      local env = c_env_of(self)
      if env == nil or not env[ENV_LISTENERS] then
        local _, err, lost = c_drain_of(self, false)
        if err ~= nil then report(format("fluxgate: %s '%s': %s", kind, name_of_self(self), describe(err))) end
        if lost > 0 then report(format("fluxgate: %s '%s': %d transitions lost", kind, name_of_self(self), lost)) end
        return
      end
      if draining(env, self, drain) then return end -- the running drain delivers them, in order
      env.draining = setmetatable({ running() }, WEAK_V)
      local ok, e = pcall(deliver, self, env)
      env.draining = nil
      if not ok then error(e, 0) end
    end
    return drain
  end


  -- Adds listener fn to the environment table env (made by the core's env
  -- function with create set).
  local function add_listener(env, fn)
    local listeners = env[ENV_LISTENERS]
    if not listeners then
      listeners = {}
      env[ENV_LISTENERS] = listeners
    end
    listeners[#listeners + 1] = fn
  end

  return { make_drain = make_drain, add_listener = add_listener }
end
