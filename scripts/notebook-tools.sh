#!/usr/bin/env bash
# Builds GoNB, goimports and gopls from the pinned tools module tools/gonb
# (GoNB v0.11.4, gopls v0.23.0: `go install ...@version` of GoNB is refused
# by the module proxy, see docs/guide/gonb.md) into a cache directory keyed
# by the module's go.sum, so reruns take no time, and registers the GoNB
# kernel inside the venv's Jupyter data dir with this checkout in the
# kernel's go.work.
#
#   eval "$(bash scripts/notebook-tools.sh [--raw-errors])"
#
# prints `export FDAG_GONB_BIN=DIR` (put DIR on PATH: GoNB runs goimports and
# gopls from it; the kernel spec also puts it on the kernel's PATH).
# --raw-errors makes the kernel report cell errors as plain text (tests).
# Env: VENV (default ROOT/.venv), FDAG_TOOLS_CACHE (default ~/.cache/fdag/bin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
raw_errors=false
[[ "${1:-}" == "--raw-errors" ]] && raw_errors=true

key="$(cat "$ROOT/tools/gonb/go.mod" "$ROOT/tools/gonb/go.sum" "$(command -v go)" | sha256sum | cut -c1-16)"
BIN="${FDAG_TOOLS_CACHE:-$HOME/.cache/fdag/bin}/gonb-$key"
if [[ ! -x "$BIN/gonb" || ! -x "$BIN/goimports" || ! -x "$BIN/gopls" ]]; then
	echo "notebook-tools: building gonb, goimports, gopls into $BIN" >&2
	tmp="$BIN.tmp.$$"
	mkdir -p "$tmp"
	(cd "$ROOT/tools/gonb" && go build -o "$tmp/" github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports golang.org/x/tools/gopls) >&2
	rm -rf "$BIN"
	mv "$tmp" "$BIN"
fi

# The kernel spec goes into the venv (sys.prefix/share/jupyter), where the
# venv's Jupyter finds it without any JUPYTER_PATH.
export JUPYTER_DATA_DIR="$VENV/share/jupyter"
PATH="$BIN:$PATH" "$BIN/gonb" --install --go_work="$ROOT" --raw_error="$raw_errors" --logtostderr >/dev/null 2>&1 ||
	{ echo "notebook-tools: gonb --install failed" >&2; PATH="$BIN:$PATH" "$BIN/gonb" --install --go_work="$ROOT" >&2; exit 1; }
"$VENV/bin/python" - "$JUPYTER_DATA_DIR/kernels/gonb/kernel.json" "$BIN" "$raw_errors" <<'PY'
import json, sys
path, bindir, quiet = sys.argv[1], sys.argv[2], sys.argv[3] == "true"
spec = json.load(open(path))
if quiet:
    # Headless runs: the kernel's own log (it prints a stack at every
    # shutdown) would only bury the test output; cell errors still reach
    # the notebook.
    # (GoNB also prints sample Info/Warning/Error lines at start.)
    spec["argv"] = [a for a in spec["argv"] if not a.startswith(("-logtostderr=", "-log_file=", "-stderrthreshold="))]
    spec["argv"] += ["-logtostderr=false", "-log_file=/dev/null", "-stderrthreshold=3"]
# jupyter_client substitutes ${PATH} from the environment Jupyter runs in.
spec.setdefault("env", {})["PATH"] = bindir + ":${PATH}"
json.dump(spec, open(path, "w"), indent=1)
PY
echo "export FDAG_GONB_BIN=$BIN"
