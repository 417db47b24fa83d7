#!/usr/bin/env bash
# End-to-end tests of the Flight server through the Python client.
# Creates (or reuses) a venv, installs the client and the test requirements,
# builds fdag-flight (unless FDAG_FLIGHT_BIN is set) and runs pytest:
#
#   bash tests/flight/run.sh [pytest args...]
#
# VENV: the venv to use (default .venv at the repository root, as scripts/test.sh).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$repo/tests/flight/requirements.txt" -e "$repo/clients/python"
if [ -z "${FDAG_FLIGHT_BIN:-}" ] && command -v go >/dev/null; then
  mkdir -p "$repo/bin"
  (cd "$repo" && go build -o "$repo/bin/fdag-flight" ./cmd/fdag-flight)
  export FDAG_FLIGHT_BIN="$repo/bin/fdag-flight"
fi
cd "$repo"
exec "$venv/bin/python" -m pytest -q tests/flight clients/python/tests "$@"
