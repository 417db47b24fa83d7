"""Figures for docs/distributed.md: the sequential `fdag run` against
fdag.ray.run_batch_ray with 2 workers on this machine, for 4 symbols x 5
days of demo trades in an S3 warehouse (versitygw on loopback), and the
driver's peak memory as the rows grow.

    FDAG_BIN=bin/fdag VERSITYGW=$(go env GOPATH)/bin/versitygw \\
        .venv/bin/python tests/ray/bench_ray.py --rows 25000,100000

The driver's memory is the peak RSS of the driver's Python process and of
the fdag processes it runs itself (fdag plan, fdag commit; measured by
wrapping them with /usr/bin/time), not of the Ray workers. It is not a
timed test: speed is reported, never asserted.
"""

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conftest  # noqa: E402  (the same servers as the tests)


def driver_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="25000,100000", help="comma-separated total trade counts (4 symbols x 5 days)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    fdag_bin = os.environ["FDAG_BIN"]
    tmp = Path(tempfile.mkdtemp(prefix="fdag-bench-ray-"))

    (tmp / "s3").mkdir()
    with conftest.versitygw(os.environ["VERSITYGW"], tmp / "s3") as s3:
        run(args, fdag_bin, tmp, s3)
    subprocess.run(["rm", "-rf", str(tmp)])


def run(args: argparse.Namespace, fdag_bin: str, tmp: Path, s3: dict) -> None:
    os.environ["FDAG_S3_KEY"], os.environ["FDAG_S3_SECRET"] = conftest.ACCESS, conftest.SECRET
    import ray

    import fdag.ray as fray

    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    timelog = tmp / "driver-fdag-rss.log"
    wrapper = tmp / "fdag-timed"
    wrapper.write_text(f"#!/bin/sh\nexec /usr/bin/time -a -o {timelog} -f %M {fdag_bin} \"$@\"\n")
    wrapper.chmod(0o755)
    rows_list = [int(r) for r in args.rows.split(",")]
    out = []
    for i, rows in enumerate(rows_list):
        # Each mode writes into a fresh ft_features of its own project (a commit that replaces
        # earlier rows costs more than a first one), over the same demo trades.
        seq_proj, proj = (conftest.write_project(tmp / f"{m}{i}", s3, f"bench-{m}{i}") for m in ("seq", "ray"))
        for p in (seq_proj, proj):
            conftest.run_fdag(fdag_bin, "demo-data", "--project", str(p), "--rows", str(rows), "--days", "5",
                              "--symbols", ",".join(conftest.SYMBOLS), "--seed", "3")
        t0 = time.monotonic()
        seq = json.loads(conftest.run_fdag(fdag_bin, "run", "--project", str(seq_proj), "--features", str(conftest.FEATURES),
                                           "--symbols", ",".join(conftest.SYMBOLS), "--start", conftest.START,
                                           "--end", conftest.END, "--json").stdout)
        seq_wall = time.monotonic() - t0
        timelog.write_text("")
        s = fray.run_batch_ray(str(conftest.FEATURES), conftest.SYMBOLS, conftest.START, conftest.END, shard="1d",
                               concurrency=args.workers, project=proj, fdag_bin=str(wrapper), progress=False)
        fdag_rss = max(int(x) for x in timelog.read_text().split() if x.isdigit())
        per_shard = [x["seconds"] for x in s.shards_table()]
        out.append({
            "rows": rows, "narrow_rows": s.rows_out, "shards": s.shards,
            "seq_shards_s": seq["totals"]["shards"] / seq_wall, "seq_rows_s": seq["totals"]["rows_out"] / seq_wall,
            "ray_shards_s": s.shards_per_second, "ray_rows_s": s.rows_per_second,
            "shard_s_mean": sum(per_shard) / len(per_shard), "commit_s": s.timing.get("commit", 0.0),
            "seq_commit_s": seq["timing"].get("commit_s", 0.0),
            "driver_python_rss_mb": driver_rss_kb() / 1024, "driver_fdag_rss_mb": fdag_rss / 1024,
        })
        print(json.dumps(out[-1]), flush=True)
    print("\n| trades | narrow rows | shards | sequential shards/s | sequential rows/s | Ray shards/s | Ray rows/s "
          "| mean shard s (worker) | commit s (seq / Ray) | driver Python peak MB | driver fdag peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in out:
        print(f"| {r['rows']:,} | {r['narrow_rows']:,} | {r['shards']} | {r['seq_shards_s']:.2f} | {r['seq_rows_s']:,.0f} "
              f"| {r['ray_shards_s']:.2f} | {r['ray_rows_s']:,.0f} | {r['shard_s_mean']:.2f} | {r['seq_commit_s']:.2f} / {r['commit_s']:.2f} "
              f"| {r['driver_python_rss_mb']:.0f} | {r['driver_fdag_rss_mb']:.0f} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
