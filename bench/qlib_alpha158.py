"""Alpha158 over bars: fdag compute (the Qlib dialect) against Qlib's own
expression engine (pyqlib's D.features) on the same data, one run each,
both measured here. Run with the Qlib venv that scripts/test.sh builds:

    .venv-qlib/bin/python bench/qlib_alpha158.py --symbols 500 --rows 2000 --fdag bin/fdag

fdag's time is the whole `fdag compute` process (read Parquet, compute the
158 features, write Parquet); Qlib's is D.features over every instrument
(read its binary files, compute, return one DataFrame), without Qlib's
expression and dataset caches, in one process (kernels=1) and in as many
processes as cores (kernels=N). Afterwards the two outputs are compared at
float32 tolerance (5e-4), as tests/qlib does on small data."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "qlib"))
from qlib_ref import make_bars, write_qlib_dir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--rows", type=int, default=2000, help="bars per symbol")
    ap.add_argument("--fdag", default="bin/fdag")
    ap.add_argument("--kernels", default="1,2", help="Qlib process counts to time, comma-separated")
    args = ap.parse_args()

    from qlib.contrib.data.loader import Alpha158DL

    exprs, names = Alpha158DL.get_feature_config()
    tmp = Path(tempfile.mkdtemp(prefix="qlib-bench-"))
    bars = make_bars(args.symbols, args.rows)
    n = len(bars)
    pq.write_table(pa.Table.from_pandas(bars, preserve_index=False), tmp / "bars.parquet")
    write_qlib_dir(bars, tmp / "qlib")
    (tmp / "alpha158.json").write_text(json.dumps([{"name": a, "formula": e} for a, e in zip(names, exprs)]))
    print(f"{n:,} bars ({args.symbols} symbols x {args.rows}), {len(exprs)} Alpha158 features; machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([args.fdag, "compute", "--input", str(tmp / "bars.parquet"), "--features", str(tmp / "alpha158.json"),
                    "--output", str(tmp / "fdag.parquet")], check=True, capture_output=True)
    fdag_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    fdag_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"fdag compute (whole process, Parquet in and out): {fdag_s:.2f} s wall, {fdag_cpu:.2f} s CPU, peak RSS {after.ru_maxrss / 1024:.0f} MB")

    results = {}
    for k in [int(x) for x in args.kernels.split(",") if x]:
        code = f"""
import sys, time, resource
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent / "tests" / "qlib")!r})
import qlib
from qlib.constant import REG_CN
from qlib.data import D
from qlib.contrib.data.loader import Alpha158DL
exprs, names = Alpha158DL.get_feature_config()
qlib.init(provider_uri={str(tmp / "qlib")!r}, region=REG_CN, expression_cache=None, dataset_cache=None, kernels={k}, logging_level="WARNING")
cal = open({str(tmp / "qlib" / "calendars" / "day.txt")!r}).read().split()
t0 = time.perf_counter(); c0 = time.process_time()
df = D.features(D.instruments("all"), exprs, start_time=cal[0], end_time=cal[-1])
took = time.perf_counter() - t0
df.columns = names
df.to_pickle({str(tmp / "qlib.pkl")!r})
ru = resource.getrusage(resource.RUSAGE_SELF); rc = resource.getrusage(resource.RUSAGE_CHILDREN)
print(took, ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime, max(ru.ru_maxrss, rc.ru_maxrss) / 1024, len(df))
"""
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
        took, cpu, rss, rows = float(out[-4]), float(out[-3]), float(out[-2]), int(out[-1])
        results[k] = took
        print(f"Qlib D.features, kernels={k}: {took:.2f} s wall (the call alone), {cpu:.2f} s CPU (whole process), peak RSS {rss:.0f} MB, {rows:,} rows")
        assert rows == n

    import pandas as pd

    got = pq.read_table(tmp / "fdag.parquet").to_pandas().set_index(["symbol", "event_time"])
    want = pd.read_pickle(tmp / "qlib.pkl")
    want.index = want.index.set_names(["symbol", "event_time"])
    want.index = want.index.set_levels(want.index.levels[0].str.upper(), level=0)
    want = want.reindex(got.index)
    off = []
    for name in names:
        g, w = got[name].to_numpy(float), want[name].to_numpy(float)
        scale = np.nanmedian(np.abs(w))
        bad = (np.isnan(g) != np.isnan(w)) | (np.abs(g - w) > 5e-4 * np.maximum(np.abs(w), scale) + 1e-12)
        if bad.any():
            off.append(f"{name}: {int(bad.sum())} rows")
    print("outputs agree at float32 tolerance" if not off else "outputs differ: " + ", ".join(off))
    best = min(results.values()) if results else float("nan")
    print(f"Qlib (best) / fdag: {best / fdag_s:.1f}x")


if __name__ == "__main__":
    main()
