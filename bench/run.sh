#!/usr/bin/env bash
# fdag vs Polars vs DuckDB on the same trades and feature set (bench/README.md).
#   bash bench/run.sh                          # make bench: 1M and 10M rows, 3 runs each
#   bash bench/run.sh --rows 20000 --runs 1    # make bench-smoke (a step of scripts/test.sh)
# Arguments go to bench/bench.py (--help). VENV as in scripts/test.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"

if [[ ! -x "$VENV/bin/python" ]]; then
	if command -v python3.11 >/dev/null 2>&1; then
		python3.11 -m venv "$VENV"
	else
		python3 -m venv "$VENV"
	fi
fi
if ! "$VENV/bin/python" -c 'import polars, duckdb, pyarrow, fdag' >/dev/null 2>&1; then
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
		-r tests/python/requirements.txt -e clients/python
fi

mkdir -p bin
go build -o bin/ ./cmd/fdag ./cmd/fdag-flight ./bench/fdagbench

exec "$VENV/bin/python" bench/bench.py "$@"
