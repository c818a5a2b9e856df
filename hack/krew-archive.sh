#!/usr/bin/env bash
# Builds the krew release archive dist/krew/kubectl-parallax-vVERSION.tar.gz and writes
# plugins/parallax.yaml with its sha256. The archive is the npm package (npm pack: built dist/, proto,
# samples, CRDs) with its production dependencies from package-lock.json, under package/; byte for byte
# reproducible (sorted, no timestamps or owners), so anyone can check the manifest's sha256.
# Upload the archive to the GitHub release vVERSION, then submit plugins/parallax.yaml to krew-index.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" >/dev/null      # prepack builds dist/
tar -xzf "$work"/parallax-operator-"$version".tgz -C "$work"
cp package-lock.json "$work/package/"
(cd "$work/package" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent && rm package-lock.json)
chmod 755 "$work/package/dist/src/cmd/cli.js"
mkdir -p dist/krew
out="dist/krew/kubectl-parallax-v$version.tar.gz"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf - package | gzip -n -9 > "$out"
npx tsx hack/krew.ts "$out"
echo "built $out"
