#!/usr/bin/env python3
"""Server memory and time to first batch of one DoGet fetch (bench/README.md, "DoGet fetch").

    python bench/fetch.py --rows 1000000,10000000 --days-per-million 2 --runs 2 \
        --flight bin/fdag-flight [--flight OTHER/fdag-flight ...]

For each size: `fdag demo-data --project DIR --rows N --days D` ingests N trades of 4 symbols
over D days (D = N/1M x --days-per-million, so every size has the same rows per symbol-day) into
a fresh project, once. Then, per run and per server binary (alternating binaries), a fresh
`fdag-flight --project DIR` on loopback serves ONE DoGet fetch ticket: the 24 features of
testdata/features/demo.json for every symbol over the whole range (one ticket, not one per
endpoint, so the server holds the whole fetch if it reads it whole). The client reads batch by
batch and throws each away; timed: ticket sent -> first batch, ticket sent -> last batch.
The server's peak RSS is VmHWM of /proc/PID/status after the fetch.
"""
import argparse
import datetime
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import pyarrow.flight as fl

ROOT = pathlib.Path(__file__).resolve().parent.parent


def vm_hwm_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def project_for(fdag, rows, days, out):
    d = out / f"fetch-rows-{rows}-days-{days:g}"
    if not (d / ".done").exists():
        subprocess.run(["rm", "-rf", str(d)], check=True)
        d.mkdir(parents=True)
        subprocess.run([fdag, "demo-data", "--project", str(d), "--rows", str(rows), "--days", f"{days:g}", "--seed", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        (d / ".done").write_text("")
    return d


def fetch_once(flight_bin, project, ticket):
    srv = subprocess.Popen([flight_bin, "--listen", "127.0.0.1:0", "--project", str(project), "--log-level", "warn"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = srv.stdout.readline()
        addr = line.strip().split()[-1]
        client = fl.FlightClient(f"grpc://{addr}")
        t0 = time.perf_counter()
        reader = client.do_get(fl.Ticket(ticket))
        first = None
        rows = 0
        for chunk in reader:
            if first is None:
                first = time.perf_counter() - t0
            rows += chunk.data.num_rows
        total = time.perf_counter() - t0
        return {"rows": rows, "first_s": first, "total_s": total, "server_hwm_mib": vm_hwm_mib(srv.pid)}
    finally:
        srv.kill()
        srv.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000,10000000")
    ap.add_argument("--days-per-million", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--fdag", default=str(ROOT / "bin" / "fdag"))
    ap.add_argument("--flight", action="append", help="fdag-flight binary (repeat to compare builds)")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench"))
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    flights = a.flight or [str(ROOT / "bin" / "fdag-flight")]
    features = json.loads((ROOT / "testdata" / "features" / "demo.json").read_text())["features"]
    out = pathlib.Path(a.out)
    results = []
    for rows in [int(r) for r in a.rows.split(",")]:
        days = rows / 1e6 * a.days_per_million
        project = project_for(a.fdag, rows, days, out)
        end = (datetime.datetime(2024, 1, 2) + datetime.timedelta(days=days + 2)).strftime("%Y-%m-%d")
        ticket = json.dumps({"features": features, "start": "2024-01-02T00:00:00Z", "end": end}).encode()
        runs = {f: [] for f in flights}
        for _ in range(a.runs):
            for f in flights:
                runs[f].append(fetch_once(f, project, ticket))
        for f in flights:
            r = runs[f]
            res = {"flight": f, "rows": rows, "days": days, "runs": r,
                   "first_s": statistics.median(x["first_s"] for x in r),
                   "total_s": statistics.median(x["total_s"] for x in r),
                   "server_hwm_mib": max(x["server_hwm_mib"] for x in r)}
            results.append(res)
            print(f"{rows:>10,} rows {days:5.1f} days  {f}: first batch {res['first_s']:.2f} s, all {res['total_s']:.2f} s "
                  f"({r[0]['rows']:,} rows out), server peak RSS {res['server_hwm_mib']:.0f} MiB", flush=True)
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
