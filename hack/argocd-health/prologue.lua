-- Shared prologue (hack/argocd-health/prologue.lua, written into each script: Argo CD needs each whole).
-- Written for Lua 5.1 (Argo CD runs gopher-lua) and tested with lua5.4 in test/unit/packaging.
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }
if obj.status == nil then
  return hs
end

local ready = nil
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      ready = c
    end
  end
end

-- A status written for an older spec says nothing about the current one.
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil then
  local observed = nil
  if ready ~= nil and ready.observedGeneration ~= nil then
    observed = ready.observedGeneration
  else
    observed = obj.status.observedGeneration
  end
  if observed == nil or observed < generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
    return hs
  end
end

local message = obj.status.message
if (message == nil or message == "") and ready ~= nil then
  message = ready.message
end
if message == nil or message == "" then
  message = obj.status.phase or (ready and ready.reason) or ""
end
hs.message = message
