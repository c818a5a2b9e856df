#!/usr/bin/env bash
# `npm test`: the whole suite against a real kube-apiserver + etcd (envtest binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${KUBEBUILDER_ASSETS:-}" && -d ../shared/envtest/bin ]]; then
  KUBEBUILDER_ASSETS=$(cd ../shared/envtest/bin && pwd)
  export KUBEBUILDER_ASSETS
fi
if [[ -z "${KUBEBUILDER_ASSETS:-}" ]]; then
  echo "KUBEBUILDER_ASSETS is not set: export KUBEBUILDER_ASSETS=\$(setup-envtest use -p path 1.20.x) (a folder with etcd, kube-apiserver, kube-controller-manager)" >&2
  exit 1
fi
bash hack/install-tools.sh   # helm + kubectl into .tools/bin (from node_modules), lua5.4
NODE_OPTIONS=--experimental-vm-modules exec npx jest --coverage "$@"
