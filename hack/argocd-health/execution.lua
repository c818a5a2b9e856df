-- Argo CD health check for parallax.ai/v1alpha1 Execution
-- (argocd-cm: resource.customizations.health.parallax.ai_Execution). See docs/gitops.md.
-- {{prologue}}
local phase = obj.status.phase

if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Failed" then
  hs.status = "Degraded"
elseif phase == "AwaitingReview" then
  -- A confidence policy waits for a person (a Review): nothing is wrong, someone has to act.
  hs.status = "Suspended"
elseif phase == "Pending" or phase == "Running" then
  hs.status = "Progressing"
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
else
  hs.status = "Progressing"
end
return hs
