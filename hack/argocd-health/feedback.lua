-- Argo CD health check for parallax.ai/v1alpha1 Feedback
-- (argocd-cm: resource.customizations.health.parallax.ai_Feedback). See docs/gitops.md.
-- Applied: added to the Agents' track records; Invalid: refused, nothing changed.
-- {{prologue}}
local phase = obj.status.phase

if phase == "Applied" then
  hs.status = "Healthy"
elseif phase == "Invalid" then
  hs.status = "Degraded"
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
else
  hs.status = "Progressing"
end
return hs
