#!/usr/bin/env bash
# Render (or lint) the Helm chart without a helm binary: Go text/template + sprig v3 (Helm's own
# template library, from Debian) + Helm's extra functions, and values.schema.json checked by ajv.
#
#   hack/helm/render.sh [helm-render flags] [CHART_DIR]
#     --name RELEASE --namespace NS -f values.yaml --set a.b=c --set-string a=b --set-json 'a=[..]'
#     --api-versions policy/v1/PodDisruptionBudget   (extra .Capabilities.APIVersions entries)
#     --api-versions-only  only those (e.g. simulate Kubernetes 1.20: --api-versions-only --api-versions policy/v1beta1)
#     --lint            check Chart.yaml, render every template and NOTES.txt, check every document
#     --print-values    print the coalesced values as JSON
#   CHART_DIR (last argument, a directory with Chart.yaml) defaults to charts/parallax.
#
# Env: HELM_RENDER_BIN (where the binary goes; default $TMPDIR/parallax-helm-render/helm-render).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

"$root/hack/install-tools.sh" go >&2

bin="$("$here/build.sh")"

args=("$@")
chart="$root/charts/parallax"
n=${#args[@]}
if (( n > 0 )) && [[ -f "${args[n-1]}/Chart.yaml" ]]; then
  chart="${args[n-1]}"
  unset "args[n-1]"
fi
mode=render
for a in "${args[@]+"${args[@]}"}"; do [[ "$a" == --print-values ]] && mode=values; done

# 1. values.schema.json, like helm (checked on the coalesced values before rendering).
if [[ -f "$chart/values.schema.json" ]]; then
  filtered=()
  for a in "${args[@]+"${args[@]}"}"; do [[ "$a" == --lint ]] || filtered+=("$a"); done
  values_json="$("$bin" "${filtered[@]+"${filtered[@]}"}" --print-values "$chart")"
  printf '%s' "$values_json" | (cd "$root" && npx --no-install tsx hack/helm/validate-values.ts "$chart")
  if [[ $mode == values ]]; then printf '%s\n' "$values_json"; exit 0; fi
fi
# 2. templates.
exec "$bin" "${args[@]+"${args[@]}"}" "$chart"
