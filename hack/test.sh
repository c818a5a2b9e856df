#!/usr/bin/env bash
# `npm test` (`make test`): jest against a real kube-apiserver + etcd, then pytest for the Python
# agent SDK (sdk/python) in .venv (hack/python-env.sh). Both suites always run, whatever the other
# did; the exit status is non-zero if either failed or could not run. Arguments go to jest;
# PYTEST_ADDOPTS reaches pytest (pytest reads it), e.g. PYTEST_ADDOPTS=--junitxml=out.xml.
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${KUBEBUILDER_ASSETS:-}" && -d ../shared/envtest/bin ]]; then
  KUBEBUILDER_ASSETS=$(cd ../shared/envtest/bin && pwd)
  export KUBEBUILDER_ASSETS
fi

failed=()
# helm + kubectl into .tools/bin (from node_modules), lua5.4, and what `python3 -m venv` needs.
bash hack/install-tools.sh || failed+=("hack/install-tools.sh")
# The Python environment comes first: jest's integration tests run Python agents from it too.
python_ok=true
bash hack/python-env.sh || { python_ok=false; failed+=("hack/python-env.sh"); }

if [[ -z "${KUBEBUILDER_ASSETS:-}" ]]; then
  echo "KUBEBUILDER_ASSETS is not set: export KUBEBUILDER_ASSETS=\$(setup-envtest use -p path 1.20.x) (a folder with etcd, kube-apiserver, kube-controller-manager)" >&2
  failed+=("jest (not run: KUBEBUILDER_ASSETS)")
else
  # --forceExit: once every test has reported, a timer a test left armed (grpc-js keeps a
  # certificate file watcher until an idle channel is reaped) must not hold the run for minutes.
  NODE_OPTIONS=--experimental-vm-modules npx jest --coverage --forceExit "$@" || failed+=("jest")
fi

if $python_ok; then
  (cd sdk/python && ../../.venv/bin/python -m pytest) || failed+=("pytest")
else
  failed+=("pytest (not run: no Python environment)")
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  printf 'hack/test.sh: failed: %s\n' "$(IFS=,; echo "${failed[*]}" | sed 's/,/, /g')" >&2
  exit 1
fi
