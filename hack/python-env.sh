#!/usr/bin/env bash
# The Python environment of the tests: .venv (git-ignored) with the Python SDK (sdk/python)
# installed editable with its `test` extras, from the package index pip is configured for.
#   hack/python-env.sh            # create or bring up to date; prints nothing when it already is
# Reinstalls when sdk/python/pyproject.toml changed (a stamp in .venv) or an import fails.
# PYTHON picks the interpreter (default python3; Python >= 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
venv=.venv
stamp=$venv/.parallax-sdk-stamp

if ! command -v "$py" >/dev/null 2>&1; then
  echo "python-env.sh: $py not found: install Python >= 3.10 (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "python-env.sh: $("$py" --version 2>&1) is too old: the SDK needs Python >= 3.10 (set PYTHON=python3.x)" >&2
  exit 1
fi
# A venv whose pip is missing (made while ensurepip was not installed) is rebuilt.
if [[ -x $venv/bin/python ]] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$venv"
fi
if [[ ! -x $venv/bin/python ]]; then
  if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    bash hack/install-tools.sh venv
  fi
  "$py" -m venv "$venv"
fi

want="$(sha256sum sdk/python/pyproject.toml | cut -d' ' -f1) $("$venv/bin/python" --version 2>&1)"
if [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]] && "$venv/bin/python" -c 'import parallax_agent, pytest, pytest_asyncio, pytest_cov, pytest_timeout, grpc_tools' >/dev/null 2>&1; then
  exit 0
fi
echo "python-env.sh: installing sdk/python[test] into $venv" >&2
# One retry: where the public index is unreachable and a mirror serves the packages, pip would
# otherwise spend half a minute retrying the unreachable one for every package.
log=$venv/pip-install.log
if ! PIP_RETRIES=${PIP_RETRIES:-1} PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$venv/bin/python" -m pip install --editable "sdk/python[test]" >"$log" 2>&1; then
  tail -40 "$log" >&2
  echo "python-env.sh: pip install of sdk/python[test] failed (full log: $log)" >&2
  exit 1
fi
echo "$want" >"$stamp"
