#!/usr/bin/env bash
# Installs the Debian packages the packaging checks need, only when they are missing (idempotent).
#   hack/install-tools.sh          # everything
#   hack/install-tools.sh go       # Go 1.19 + sprig v3 (hack/helm renderer)
#   hack/install-tools.sh lua      # lua5.4 (Argo CD health checks in docs/argocd-health)
set -euo pipefail
want=("$@")
[[ ${#want[@]} -eq 0 ]] && want=(go lua)

pkgs=()
for w in "${want[@]}"; do
  case "$w" in
    go)
      command -v go >/dev/null 2>&1 || pkgs+=(golang-go)
      [[ -f /usr/share/gocode/src/github.com/Masterminds/sprig/functions.go ]] || pkgs+=(golang-github-masterminds-sprig-dev)
      ;;
    lua) command -v lua5.4 >/dev/null 2>&1 || pkgs+=(lua5.4) ;;
    *) echo "install-tools.sh: unknown tool '$w' (go, lua)" >&2; exit 2 ;;
  esac
done
[[ ${#pkgs[@]} -eq 0 ]] && exit 0

echo "install-tools.sh: installing ${pkgs[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
