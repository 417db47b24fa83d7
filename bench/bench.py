#!/usr/bin/env python3
"""The same feature set on fdag, Polars and DuckDB, in one run, with ratios.

    python bench/bench.py --rows 1000000,10000000 --runs 3     # what `make bench` runs
    python bench/bench.py --rows 20000 --runs 1                # the smoke run of scripts/test.sh

For each size: generate the trades once (`fdag demo-data`, deterministic),
then check agreement (every engine once, with output, each feature compared
with fdag in-process: null positions, max abs / rel difference), then time
the engines alternately (A B C A B C ...), each run its own process, and
print (and write as JSON) the medians and peak RSS.

Engines:
  fdag         in-process Go (bench/fdagbench): compute.ComputeFeatures on a table in memory
  fdag-cli     `fdag compute` as a whole process: read Parquet, compute, write Parquet
  fdag-flight  pyarrow client -> fdag-flight DoExchange on loopback (RSS: the server's)
  polars       Python, lazy, .over(symbol), formulas translated by bench/formulas.py
  polars-part  Python, one lazy query per symbol (partition_by) run by pl.collect_all
  polars-cli, polars-part-cli
               the same two queries as whole processes that read the Parquet file and
               write the output (Snappy, as fdag compute): what fdag-cli is compared with
  duckdb       Python, one SQL query of window functions, translated by bench/formulas.py

"wall" is the computation alone (input already in memory, result
materialised in memory) except for the -cli engines, where it is the whole process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "python"))

from formulas import load_features  # noqa: E402
from reference import last_of_timestamp, sort_for_reference  # noqa: E402  (the tests' tie rule)

ENGINES = ["fdag", "fdag-cli", "fdag-flight", "polars", "polars-part", "polars-cli", "polars-part-cli", "duckdb"]
WHOLE_PROCESS = {"fdag-cli", "polars-cli", "polars-part-cli"}
RTOL, ATOL = 1e-9, 1e-12  # as tests/python/test_polars_agreement.py
# rolling_corr is in [-1, 1]; Polars' and DuckDB's come from raw moments
# (sums of x, y, xy, x^2, y^2), which lose digits where fdag's shifted,
# compensated sums do not (DESIGN.md; polars issue 21491). fdag is checked
# against a two-pass reference in tests/python; here an absolute 1e-9 is
# allowed for corr, and the actual figures are printed.
CORR_ATOL = 1e-9


def tolerance(formula: str) -> tuple[float, float]:
    return (RTOL, CORR_ATOL) if "rolling_corr" in formula else (RTOL, ATOL)


def fail(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------------
# running one engine


class Run:
    def __init__(self, wall: float, process_wall: float, rss_kib: int, extra: dict):
        self.wall, self.process_wall, self.rss_kib, self.extra = wall, process_wall, rss_kib, extra


# Peak RSS of one process: ru_maxrss of a child starts at its parent's RSS
# at fork (Linux keeps the high-water mark across exec), and this process is
# large (Polars, the data of the agreement check). So each engine is started
# by a small Python launcher that forks it, waits for it with wait4 and
# reports that child's own ru_maxrss (the launcher's ~10 MiB is the floor).
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
sys.stderr.write("\\n__maxrss_kib=%d\\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _spawn(cmd: list[str], env: dict | None = None) -> tuple[str, float, int]:
    """Runs cmd to completion; returns (stdout, wall seconds, peak RSS KiB of
    that process alone)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *cmd], stdout=out, stderr=err, env=env)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rss = 0
    lines = stderr.rstrip().splitlines()
    if lines and lines[-1].startswith("__maxrss_kib="):
        rss = int(lines.pop().split("=", 1)[1])
        stderr = "\n".join(lines)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}")
    return stdout, wall, rss


def _last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    fail(f"no JSON result line in:\n{stdout}")
    return {}


class FlightServer:
    """fdag-flight on a free loopback port, started for one run."""

    def __init__(self, binary: Path, workdir: Path):
        # Started in the data directory: whatever an embedded project the
        # server may create stays out of the source tree.
        self.proc = subprocess.Popen([str(binary.resolve()), "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=workdir)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            fail(f"fdag-flight did not start (first line {line!r})")
        self.location = "grpc://" + line.removeprefix("listening on ")

    def peak_rss_kib(self) -> int:
        """VmHWM of the server (its own address space's high-water mark)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> int:
        """Stops the server; returns its peak RSS in KiB."""
        rss = self.peak_rss_kib()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return rss


def run_engine(engine: str, data: Path, features: Path, bins: Path, py: str, output: Path | None) -> Run:
    out_args = ["--output", str(output)] if output else []
    if engine == "fdag":
        stdout, wall, rss = _spawn([str(bins / "fdagbench"), "--input", str(data), "--features", str(features),
                                    *out_args])
        r = _last_json(stdout)
        return Run(r["compute_s"], wall, rss, r)
    if engine == "fdag-cli":
        tmp = None
        if output is None:
            tmp = tempfile.NamedTemporaryFile(suffix=".parquet", dir=data.parent, delete=False)
            tmp.close()
            output = Path(tmp.name)
        try:
            _, wall, rss = _spawn([str(bins / "fdag"), "compute", "--input", str(data), "--features", str(features),
                                   "--output", str(output)])
        finally:
            if tmp:
                os.unlink(tmp.name)
        return Run(wall, wall, rss, {})
    if engine == "fdag-flight":
        server = FlightServer(bins / "fdag-flight", data.parent)
        try:
            stdout, wall, client_rss = _spawn([py, str(HERE / "engines.py"), "flight", "--location", server.location,
                                               "--input", str(data), "--features", str(features), *out_args])
        finally:
            server_rss = server.stop()
        r = _last_json(stdout)
        r["client_rss_kib"] = client_rss
        return Run(r["compute_s"], wall, server_rss, r)
    if engine in ("polars-cli", "polars-part-cli"):
        tmp = None
        if output is None:
            tmp = tempfile.NamedTemporaryFile(suffix=".parquet", dir=data.parent, delete=False)
            tmp.close()
            output = Path(tmp.name)
        try:
            stdout, wall, rss = _spawn([py, str(HERE / "engines.py"), engine.removesuffix("-cli"), "--whole",
                                        "--input", str(data), "--features", str(features), "--output", str(output)])
        finally:
            if tmp:
                os.unlink(tmp.name)
        return Run(wall, wall, rss, _last_json(stdout))
    stdout, wall, rss = _spawn([py, str(HERE / "engines.py"), engine, "--input", str(data),
                                "--features", str(features), *out_args])
    r = _last_json(stdout)
    return Run(r["compute_s"], wall, rss, r)


# --------------------------------------------------------------------------
# agreement


def compare(ref: pq.ParquetFile, got_path: Path, data: Path, features, tie_free: np.ndarray) -> list[dict]:
    got = pq.read_table(got_path)
    rows = []
    for f in features:
        rtol, atol = tolerance(f.formula)
        a = ref[f.name]
        if f.name not in got.column_names:
            rows.append({"feature": f.name, "missing": True, "ok": False})
            continue
        b = got[f.name]
        an = a.is_null().to_numpy(zero_copy_only=False)
        bn = b.is_null().to_numpy(zero_copy_only=False)
        av = a.fill_null(0.0).to_numpy(zero_copy_only=False).astype(np.float64)
        bv = b.cast("double").fill_null(0.0).to_numpy(zero_copy_only=False)
        sel = tie_free if f.duration_window else np.ones(len(av), dtype=bool)
        null_mis = int((sel & (an != bn)).sum())
        both = sel & ~an & ~bn
        x, y = av[both], bv[both]
        with np.errstate(invalid="ignore"):
            d = np.abs(x - y)
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            d[same] = 0.0
            big = np.abs(x) > 1e-8
            rel = d[big] / np.abs(x[big])
            ok = same | np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
        # rows outside the compared set that differ (ties of duration windows)
        outside = int((~sel & ((an != bn) | (~an & ~bn & ~np.isclose(av, bv, rtol=rtol, atol=atol,
                                                                      equal_nan=True)))).sum())
        rows.append({
            "feature": f.name,
            "compared_rows": int(sel.sum()),
            "null_mismatch": null_mis,
            "max_abs": float(np.nanmax(d)) if d.size else 0.0,
            "max_rel": float(np.nanmax(rel)) if rel.size else 0.0,
            "outside_tol": int((~ok).sum()),
            "differ_on_tie_rows": outside if f.duration_window else 0,
            "atol": atol,
            "ok": null_mis == 0 and int((~ok).sum()) == 0,
        })
    return rows


def agreement(engines, data, features_path, features, bins, py, workdir: Path) -> dict[str, list[dict]]:
    print(f"\n-- agreement with fdag (in-process) on {data} "
          f"(rtol {RTOL:g}, atol {ATOL:g}, {CORR_ATOL:g} for rolling_corr; duration windows on rows that are the last of their timestamp)")
    ref_path = workdir / "out-fdag.parquet"
    run_engine("fdag", data, features_path, bins, py, ref_path)
    ref = pq.read_table(ref_path)
    src = pl.from_arrow(pq.read_table(data, columns=["symbol", "event_time"]))
    tie_free = last_of_timestamp(sort_for_reference(src))
    print(f"   {int((~tie_free).sum())} of {len(tie_free)} rows have a later row of the same symbol and timestamp")
    results = {}
    for e in engines:
        if e == "fdag":
            continue
        out = workdir / f"out-{e}.parquet"
        run_engine(e, data, features_path, bins, py, out)
        rows = compare(ref, out, data, features, tie_free)
        results[e] = rows
        bad = [r for r in rows if not r["ok"]]
        worst_abs = max(r.get("max_abs", 0) for r in rows)
        worst_rel = max(r.get("max_rel", 0) for r in rows)
        print(f"   {e:12s} {len(rows) - len(bad)}/{len(rows)} features agree; "
              f"largest differences: abs {worst_abs:.3g}, rel {worst_rel:.3g}")
        for r in rows:
            if not r["ok"] or r.get("max_rel", 0) > 1e-12 or r.get("differ_on_tie_rows"):
                note = "" if r["ok"] else "   <-- DISAGREES"
                if r.get("missing"):
                    print(f"      {r['feature']:24s} missing from the output{note}")
                    continue
                print(f"      {r['feature']:24s} max abs {r['max_abs']:.3g}  max rel {r['max_rel']:.3g}  "
                      f"nulls differ {r['null_mismatch']}  outside tol {r['outside_tol']}"
                      + (f"  (differs on {r['differ_on_tie_rows']} tie rows, not compared)"
                         if r["differ_on_tie_rows"] else "") + note)
        out.unlink()
    ref_path.unlink()
    return results


# --------------------------------------------------------------------------


def fmt_grid(lines: list[list[str]]) -> str:
    """A text table: the first line is the header, the first column left-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for j, line in enumerate(lines):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def fmt_table(rows: list[dict]) -> str:
    head = ["engine", "rows", "wall s", "process s", "peak RSS MiB", "rows/s", "fdag speed-up", "RSS / fdag"]
    lines = [head]
    for r in rows:
        lines.append([r["engine"], f"{r['rows']:,}", f"{r['median_wall_s']:.3f}", f"{r['median_process_s']:.3f}",
                      f"{r['peak_rss_mib']:.0f}", f"{r['rows_per_s']:,.0f}",
                      f"{r['fdag_speedup']:.2f}x", f"{r['rss_vs_fdag']:.2f}"])
    return fmt_grid(lines)


# The #14 comparisons: (figure, engine, best of these references, goal
# throughput ratio, "RSS no higher" applies). Throughput ratio = the
# reference's median wall over the engine's.
GOALS = [
    ("in-process compute vs Polars", "fdag", ["polars", "polars-part"], 2.0, True),
    ("fdag compute (whole process) vs Polars", "fdag-cli", ["polars-cli", "polars-part-cli"], 2.0, True),
    ("Flight DoExchange vs in-process", "fdag-flight", ["fdag"], 0.85, False),
    ("in-process compute vs DuckDB", "fdag", ["duckdb"], None, False),
]


def goal_rows(rows: list[dict]) -> list[dict]:
    by = {r["engine"]: r for r in rows}
    out = []
    for name, engine, refs, goal, rss in GOALS:
        have = [by[e] for e in refs if e in by]
        if engine not in by or not have:
            continue
        best = min(have, key=lambda r: r["median_wall_s"])
        e = by[engine]
        ratio = best["median_wall_s"] / e["median_wall_s"]
        rss_ratio = e["peak_rss_mib"] / best["peak_rss_mib"]
        met = goal is None or (ratio >= goal and (not rss or rss_ratio <= 1.0))
        out.append({"figure": name, "engine": engine, "reference": best["engine"], "rows": e["rows"],
                    "engine_s": e["median_wall_s"], "reference_s": best["median_wall_s"],
                    "throughput_ratio": ratio, "goal": goal, "rss_ratio": rss_ratio if rss else None,
                    "met": met})
    return out


def fmt_goals(rows: list[dict]) -> str:
    head = ["figure", "rows", "engine s", "best reference", "ref s", "throughput x", "goal", "RSS / ref", "met"]
    lines = [head]
    for r in rows:
        lines.append([r["figure"], f"{r['rows']:,}", f"{r['engine_s']:.3f}", r["reference"], f"{r['reference_s']:.3f}",
                      f"{r['throughput_ratio']:.2f}x", "" if r["goal"] is None else f">= {r['goal']:g}x",
                      "" if r["rss_ratio"] is None else f"{r['rss_ratio']:.2f}", "yes" if r["met"] else "NO"])
    return fmt_grid(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="1000000,10000000", help="comma-separated sizes (default 1M,10M)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each engine per size (default 3)")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, from {','.join(ENGINES)}")
    ap.add_argument("--features", default=str(ROOT / "testdata/features/demo.json"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", default=str(ROOT / "out/bench"), help="generated trades are kept here")
    ap.add_argument("--bin-dir", default=str(ROOT / "bin"), help="holds fdag, fdag-flight, fdagbench")
    ap.add_argument("--json", default=None, help="results file (default DATA_DIR/results.json)")
    ap.add_argument("--allow-disagreement", action="store_true",
                    help="time an engine even when its output disagrees with fdag's")
    a = ap.parse_args()

    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            fail(f"unknown engine {e!r}; known: {', '.join(ENGINES)}")
    if "fdag" not in engines:
        engines.insert(0, "fdag")  # the reference of every comparison and ratio
    sizes = [int(s.replace("_", "")) for s in a.rows.split(",")]
    bins = Path(a.bin_dir)
    for b in ["fdag", "fdag-flight", "fdagbench"]:
        if not os.access(bins / b, os.X_OK):
            fail(f"{bins / b} is missing: build with `go build -o bin/ ./cmd/... ./bench/fdagbench`")
    features_path = Path(a.features)
    features = load_features(features_path)
    py = sys.executable
    data_dir = Path(a.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "polars": pl.__version__,
                          "duckdb": __import__("duckdb").__version__,
                          "pyarrow": __import__("pyarrow").__version__},
              "features": str(features_path), "n_features": len(features), "runs": a.runs,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sizes": []}
    tables = []
    goals: list[dict] = []
    disagreeing: list[str] = []
    for n in sizes:
        d = data_dir / f"rows-{n}-seed-{a.seed}"
        data = d / "demo.parquet"
        if not data.exists():
            print(f"-- generating {n:,} trades -> {data}")
            _spawn([str(bins / "fdag"), "demo-data", "--out", str(d), "--rows", str(n), "--seed", str(a.seed)])
        agree = agreement(engines, data, features_path, features, bins, py, d)
        timed = ["fdag"] + [e for e in engines if e != "fdag" and
                            (a.allow_disagreement or all(r["ok"] for r in agree[e]))]
        for e in engines:
            if e not in timed:
                disagreeing.append(f"{e} at {n:,} rows")
                print(f"   {e}: not timed, its output disagrees with fdag's (see above; --allow-disagreement)")
        runs: dict[str, list[Run]] = {e: [] for e in timed}
        print(f"\n-- timing {n:,} rows: {a.runs} runs of {', '.join(timed)}, alternating")
        load_before = os.getloadavg()
        for i in range(a.runs):
            for e in timed:
                r = run_engine(e, data, features_path, bins, py, None)
                runs[e].append(r)
                print(f"   run {i + 1} {e:12s} wall {r.wall:8.3f}s  process {r.process_wall:8.3f}s  "
                      f"peak RSS {r.rss_kib / 1024:8.0f} MiB", flush=True)
        rows = []
        for e in timed:
            wall = statistics.median(r.wall for r in runs[e])
            rows.append({"engine": e, "rows": n, "median_wall_s": wall,
                         "median_process_s": statistics.median(r.process_wall for r in runs[e]),
                         "peak_rss_mib": max(r.rss_kib for r in runs[e]) / 1024,
                         "rows_per_s": n / wall,
                         "walls_s": [r.wall for r in runs[e]],
                         "extra": [r.extra for r in runs[e]]})
        base = rows[0]
        for r in rows:
            r["fdag_speedup"] = r["median_wall_s"] / base["median_wall_s"]
            r["rss_vs_fdag"] = r["peak_rss_mib"] / base["peak_rss_mib"]
        load = (load_before, os.getloadavg())
        tables.append(fmt_table(rows) + f"\n(load average {load[0][0]:.1f} before, {load[1][0]:.1f} after; {os.cpu_count()} CPUs)")
        goals += goal_rows(rows)
        report["sizes"].append({"rows": n, "data": str(data), "results": rows, "agreement": agree,
                                "load_average": [load[0][0], load[1][0]], "goals": goal_rows(rows)})
        print()
        print(tables[-1])

    out = Path(a.json) if a.json else data_dir / "results.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print("\n== results (wall: the computation alone, input in memory; -cli: the whole process;"
          " fdag-flight RSS: the server's)")
    for t in tables:
        print(t)
        print()
    if goals:
        print("== issue 14 figures (throughput x: the best reference's median wall over the engine's;"
              " RSS / ref: peak RSS over that reference's)")
        print(fmt_goals(goals))
        print()
    print(f"written {out}")
    if disagreeing:
        fail(f"outputs disagree with fdag's, not timed: {', '.join(disagreeing)}")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
