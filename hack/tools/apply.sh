#!/usr/bin/env bash
# `make install` / `make deploy`: kubectl apply --server-side ARGS, on every supported Kubernetes.
# The CRDs carry a CEL rule (x-kubernetes-validations, Kubernetes >= 1.25). Older API servers reject
# that field in server-side apply ("field not declared in schema") and kubectl's client-side schema
# check rejects it too, so there (1.20-1.24) this falls back to a client-side apply without the
# schema check; the API server then drops the rule and the operator enforces it instead.
#   hack/tools/apply.sh -f crds/
#   hack/tools/apply.sh -k config/default
set -euo pipefail
kubectl=${KUBECTL:-kubectl}
minor=$("$kubectl" version -o json 2>/dev/null | sed -n '/"serverVersion"/,/}/s/^ *"minor": *"\([0-9]*\).*/\1/p' | head -1)
major=$("$kubectl" version -o json 2>/dev/null | sed -n '/"serverVersion"/,/}/s/^ *"major": *"\([0-9]*\).*/\1/p' | head -1)
if [[ -z $minor || -z $major ]]; then
  echo "hack/tools/apply.sh: cannot read the API server version (kubectl version); is the cluster reachable?" >&2
  exit 1
fi
if (( major > 1 || minor >= 25 )); then
  set -x
  exec "$kubectl" apply --server-side "$@"
fi
set -x
exec "$kubectl" apply --validate=false "$@"
