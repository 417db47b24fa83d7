#!/usr/bin/env bash
# One command to work in the notebooks: installs Jupyter, the fdag client,
# the GoNB (Go) kernel with this checkout in its go.work, builds the fdag
# binaries, then starts JupyterLab on notebooks/.
#
#   bash scripts/jupyter.sh [jupyter lab options...]
#
# Env: VENV (default ROOT/.venv, the same venv scripts/test.sh uses).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
cd "$ROOT"
if [[ ! -x "$VENV/bin/python" ]]; then
	python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt -e clients/python
mkdir -p bin
go build -o bin/ ./cmd/...
eval "$(VENV="$VENV" bash scripts/notebook-tools.sh)"
export PATH="$FDAG_GONB_BIN:$PATH" FDAG_ROOT="$ROOT" FDAG_BIN="$ROOT/bin/fdag" FDAG_FLIGHT_BIN="$ROOT/bin/fdag-flight"
echo "kernels: $("$VENV/bin/jupyter" kernelspec list | tail -n +2 | awk '{print $1}' | tr '\n' ' ')" >&2
exec "$VENV/bin/jupyter" lab --notebook-dir="$ROOT/notebooks" "$@"
