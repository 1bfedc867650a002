#!/usr/bin/env bash
# Run uv, installing it from PyPI first if this machine has none. Uses the system Python
# (UV_PYTHON_DOWNLOADS=never): downloading a Python build is not possible here.
set -euo pipefail
export UV_PYTHON_DOWNLOADS=never
if command -v uv >/dev/null 2>&1; then
  exec uv "$@"
fi
if python3 -m uv --version >/dev/null 2>&1; then
  exec python3 -m uv "$@"
fi
echo "setup: installing uv from PyPI" >&2
python3 -m pip install --quiet --disable-pip-version-check uv >&2 \
  || python3 -m pip install --quiet --disable-pip-version-check --user uv >&2
exec python3 -m uv "$@"
