#!/usr/bin/env bash
# The main job on the embedded default: build fdag, fill a demo warehouse
# (an Iceberg SQL catalog on SQLite plus a local warehouse directory) with
# synthetic trades, compute the demo feature set into ft_features with
# `fdag run`, then serve the warehouse over Arrow Flight, printing where to
# connect and what was computed. Ctrl-C stops the server.
#
# Environment: ROWS (default 400000), DAYS (3), SEED (1), PROJECT (out/demo),
# LISTEN (127.0.0.1:8815), SERVE=0 to stop after computing (no server),
# KEEP=1 to keep an existing demo project instead of starting afresh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROWS="${ROWS:-400000}"
DAYS="${DAYS:-3}"
SEED="${SEED:-1}"
PROJECT="${PROJECT:-$ROOT/out/demo}"
LISTEN="${LISTEN:-127.0.0.1:8815}"
SERVE="${SERVE:-1}"
FEATURES="$ROOT/testdata/features/demo.yaml"
SYMBOLS="BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT"
START="2024-01-02"
END="$(date -u -d "$START + $DAYS days" +%F)"

# Safe to run twice, or while an earlier run still serves: the port is
# checked before anything is touched, and a project a live server uses is
# never deleted (its pid is in $PROJECT/flight.pid while it serves).
pidfile="$PROJECT/flight.pid"
serving_pid() { # the pid of a live fdag-flight serving $PROJECT, if any
	local pid
	pid="$(cat "$pidfile" 2>/dev/null || true)"
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -qa fdag-flight "/proc/$pid/cmdline" 2>/dev/null; then
		echo "$pid"
		return
	fi
	# a server started by hand: its command line names the project
	for f in /proc/[0-9]*/cmdline; do
		if tr '\0' ' ' <"$f" 2>/dev/null | grep -q "fdag-flight.*--project $PROJECT\( \|$\)"; then
			f="${f#/proc/}"
			echo "${f%/cmdline}"
			return
		fi
	done
}
if pid="$(serving_pid)" && [[ -n "$pid" ]]; then
	echo "demo.sh: fdag-flight (pid $pid) is serving $PROJECT; stop it first (kill $pid), or use another PROJECT=DIR" >&2
	exit 1
fi
if [[ "$SERVE" == "1" ]]; then
	host="${LISTEN%:*}"
	port="${LISTEN##*:}"
	if [[ "$port" != "0" ]] && (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
		echo "demo.sh: $LISTEN is already in use (an earlier demo server?); stop it, or set LISTEN=HOST:PORT (port 0 picks a free one)" >&2
		exit 1
	fi
fi

echo "== build"
mkdir -p bin
go build -o bin/ ./cmd/...

if [[ "${KEEP:-0}" != "1" ]]; then
	rm -rf "$PROJECT"
fi
mkdir -p "$PROJECT"

echo "== demo trades into $PROJECT (cdm_trade_enriched)"
t0=$(date +%s.%N)
bin/fdag demo-data --project "$PROJECT" --rows "$ROWS" --days "$DAYS" --seed "$SEED" --symbols "$SYMBOLS" 2>/dev/null
t1=$(date +%s.%N)

echo "== the demo feature set ($FEATURES) into ft_features, $START to $END"
log="$PROJECT/run.log"
bin/fdag run --project "$PROJECT" --features "$FEATURES" --symbols "$SYMBOLS" \
	--start "$START" --end "$END" 2>"$log" | tee "$PROJECT/run.summary"
committed=$(tail -n 1 "$PROJECT/run.summary")
t2=$(date +%s.%N)
grep -v ' INFO ' "$log" >&2 || true

requested=$(grep -c '^  - name:' "$FEATURES")
echo
echo "demo summary"
echo "  project:    $PROJECT (catalog .fdag/catalog.db, warehouse .fdag/warehouse)"
echo "  trades:     $ROWS rows of $SYMBOLS over $DAYS days"
echo "  features:   $requested requested from $FEATURES"
echo "  written:    $committed"
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "  time:       ingest %.1fs, compute + write ft_features %.1fs\n", b - a, c - b }'
bin/fdag read --project "$PROJECT" --list

if [[ "$SERVE" != "1" ]]; then
	exit 0
fi

echo
echo "== serving the warehouse over Arrow Flight (Ctrl-C stops)"
coproc SERVER { exec bin/fdag-flight --project "$PROJECT" --listen "$LISTEN" 2>"$PROJECT/flight.log"; }
echo "$SERVER_PID" >"$pidfile"
trap 'kill -TERM "$SERVER_PID" 2>/dev/null || true' INT TERM
trap 'rm -f "$pidfile"' EXIT
read -r first <&"${SERVER[0]}" || { cat "$PROJECT/flight.log" >&2; exit 1; }
addr="${first#listening on }"
cat <<EOF
$first  (log: $PROJECT/flight.log)

  pip install -e clients/python        # or: .venv/bin/python after scripts/test.sh
  python3 - <<'PY'
import fdag
c = fdag.FeatureClient("grpc://$addr")
print(c.list_tables())
r = c.fetch(["BTCUSDT", "ETHUSDT"], "$START", "$END", {"ret_1": "log(close) - log(lag(close, 1))",
                                                    "vol_100": "rolling_std(ret_1, 100)"})
print(r, r.table.slice(0, 5))
print(c.read_table("ft_features", symbols="BTCUSDT", feature_names=["vol_100"]).num_rows)
PY
EOF
wait "$SERVER_PID"
