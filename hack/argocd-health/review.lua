-- Argo CD health check for parallax.ai/v1alpha1 Review
-- (argocd-cm: resource.customizations.health.parallax.ai_Review). See docs/gitops.md.
-- Applied: the Execution took the verdict; Invalid: it could not.
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
