#!/usr/bin/env bash
# The demo: build fdag, generate synthetic trades, compute the demo feature
# set and summarise. ROWS, SEED and OUT_DIR may be set in the environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROWS="${ROWS:-1000000}"
SEED="${SEED:-1}"
OUT_DIR="${OUT_DIR:-$ROOT/out/demo}"
FEATURES="$ROOT/testdata/features/demo.yaml"

mkdir -p bin "$OUT_DIR"
go build -o bin/ ./cmd/...

start=$(date +%s.%N)
bin/fdag demo-data --out "$OUT_DIR" --rows "$ROWS" --seed "$SEED" >/dev/null
gen_done=$(date +%s.%N)

log="$OUT_DIR/compute.log"
status=0
bin/fdag compute --input "$OUT_DIR/demo.parquet" --features "$FEATURES" \
	--output "$OUT_DIR/features.parquet" 2>"$log" || status=$?
end=$(date +%s.%N)
cat "$log" >&2

requested=$(grep -c '^  - name:' "$FEATURES")
failed=$(grep -vc '^fdag compute:' "$log" || true)
echo
echo "demo summary"
echo "  input rows:        $ROWS ($OUT_DIR/demo.parquet)"
echo "  features:          $requested requested, $((requested - failed)) computed, $failed failed"
echo "  output:            $OUT_DIR/features.parquet"
awk -v s="$start" -v g="$gen_done" -v e="$end" \
	'BEGIN { printf "  time:              generate %.2fs, compute %.2fs\n", g - s, e - g }'
exit "$status"
