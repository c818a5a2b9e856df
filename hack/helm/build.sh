#!/usr/bin/env bash
# Builds the chart renderer offline (GOPATH mode against Debian's Go packages) and prints its path.
# Needs golang-go and golang-github-masterminds-sprig-dev (hack/install-tools.sh go).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${TMPDIR:-/tmp}/parallax-helm-render"
bin="${HELM_RENDER_BIN:-$work/helm-render}"
mkdir -p "$work/gopath/src/github.com/Masterminds/sprig" "$(dirname "$bin")"
# Debian installs sprig v3 at .../Masterminds/sprig; the import path is .../sprig/v3.
ln -sfn /usr/share/gocode/src/github.com/Masterminds/sprig "$work/gopath/src/github.com/Masterminds/sprig/v3"
if [[ ! -x "$bin" || "$here/main.go" -nt "$bin" ]]; then
  (cd "$here" && GO111MODULE=off GOFLAGS= GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" \
    go build -o "$bin.tmp.$$" . && mv -f "$bin.tmp.$$" "$bin")
fi
echo "$bin"
