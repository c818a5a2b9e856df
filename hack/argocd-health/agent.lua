-- Argo CD health check for parallax.ai/v1alpha1 Agent
-- (argocd-cm: resource.customizations.health.parallax.ai_Agent). See docs/gitops.md.
-- {{prologue}}
local phase = obj.status.phase

if phase == "Ready" then
  hs.status = "Healthy"
elseif phase == "Degraded" or phase == "Unavailable" or phase == "Invalid" then
  hs.status = "Degraded"
elseif phase == "Pending" then
  hs.status = "Progressing"
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
elseif ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
return hs
