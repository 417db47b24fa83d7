#!/usr/bin/env python3
"""Core scaling of fdag in-process: one symbol and four, GOMAXPROCS 1 and 2.

    python3 bench/scaling.py --rows 10000000 --runs 5      # issue 14 item 2's figure
    python3 bench/scaling.py --rows 1000000 --runs 3 --cpus 1,2,4

Generates the demo trades once per (rows, symbols) with `fdag demo-data`
(one symbol: BTCUSDT alone; four: the default feed), then runs
bench/fdagbench (compute.ComputeFeatures on the table in memory, the
computation timed alone, as the "fdag" engine of bench.py) under
GOMAXPROCS=1, 2, ... alternately, `--runs` rounds, and prints the median
compute time of each, the speed-up over GOMAXPROCS=1 and the load average
before and after (the machine is shared: a loaded machine distorts the
ratio, since the second core is often busy with someone else's work).
Needs only the standard library; builds bin/fdag and bin/fdagbench first
(go build) unless --no-build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], env: dict | None = None) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"scaling: {' '.join(cmd)} exited {p.returncode}\n{p.stderr}")
    return p.stdout


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--cpus", default="1,2", help="GOMAXPROCS values (default 1,2)")
    ap.add_argument("--symbols", default="1,4", help="symbol counts: 1 (BTCUSDT) and/or 4 (the default feed)")
    ap.add_argument("--features", default=str(ROOT / "testdata/features/demo.json"))
    ap.add_argument("--data-dir", default=str(ROOT / "out/bench"))
    ap.add_argument("--bin-dir", default=str(ROOT / "bin"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", default=None, help="write the results here too")
    a = ap.parse_args()
    bins = Path(a.bin_dir)
    if not a.no_build:
        run(["go", "build", "-o", str(bins) + "/", "./cmd/fdag", "./bench/fdagbench"])
    cpus = [int(c) for c in a.cpus.split(",")]
    symbol_sets = {1: "BTCUSDT", 4: "BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT"}

    results = []
    for k in (int(s) for s in a.symbols.split(",")):
        d = Path(a.data_dir) / f"rows-{a.rows}-symbols-{k}-seed-1"
        data = d / "demo.parquet"
        if not data.exists():
            run([str(bins / "fdag"), "demo-data", "--out", str(d), "--rows", str(a.rows),
                 "--symbols", symbol_sets[k], "--seed", "1"])
        times: dict[int, list[float]] = {c: [] for c in cpus}
        before = loadavg()
        for _ in range(a.runs):
            for c in cpus:
                env = dict(os.environ, GOMAXPROCS=str(c))
                out = run([str(bins / "fdagbench"), "--input", str(data), "--features", a.features], env)
                times[c].append(json.loads(out.strip().splitlines()[-1])["compute_s"])
        after = loadavg()
        base = statistics.median(times[cpus[0]])
        print(f"\n{a.rows:,} rows, {k} symbol{'s' if k > 1 else ''}, {a.runs} rounds; load average {before} -> {after}")
        print(f"{'GOMAXPROCS':>10}  {'median s':>8}  {'min s':>6}  {'max s':>6}  {'rows/s':>10}  {'speed-up':>8}")
        for c in cpus:
            med = statistics.median(times[c])
            print(f"{c:>10}  {med:8.3f}  {min(times[c]):6.3f}  {max(times[c]):6.3f}  {a.rows / med:10,.0f}  {base / med:7.2f}x")
            results.append({"rows": a.rows, "symbols": k, "gomaxprocs": c, "compute_s": times[c],
                            "median_s": med, "speedup": base / med, "load_before": before, "load_after": after})
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
