#!/usr/bin/env python3
"""Benchmark of DoExchange from Python: N rows of synthetic trades x 24 features.

    python clients/python/bench_exchange.py                 # 1M rows, starts its own server
    python clients/python/bench_exchange.py --rows 10000000 # 10M rows
    python clients/python/bench_exchange.py --location grpc://127.0.0.1:8815

Without --location the script starts fdag-flight on a free loopback port
(``$FDAG_FLIGHT_BIN``, or built with ``go build ./cmd/fdag-flight``) and
stops it at the end. Features come from testdata/features/demo.yaml (24
features covering every built-in) when present, else from a built-in list.

Prints, for each repetition, rows/s and MB/s (Arrow bytes sent + received per
second of wall time, the client's sort and conversion included).

Echo hook: ``run_echo`` times a DoExchange with the command ``{"echo": true}``,
which a server that supports it answers with the input batches unchanged:
the pure transport cost, to subtract from the compute timing. It runs with
``--echo``; a server without echo is reported and skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE / "src"))

import fdag  # noqa: E402

FALLBACK_FEATURES: List[Dict[str, str]] = [
    {"name": "log_price", "formula": "log(close)"},
    {"name": "ret_1", "formula": "log(close) - log(lag(close, 1))"},
    {"name": "ret_20", "formula": "log(trade_price) - log(lag(trade_price, 20))"},
    {"name": "price_diff_5", "formula": "diff(close, 5)"},
    {"name": "abs_ret_1", "formula": "abs(ret_1)"},
    {"name": "exp_ret_1", "formula": "exp(ret_1)"},
    {"name": "sma_20", "formula": "rolling_mean(close, 20)"},
    {"name": "sma_ratio", "formula": "rolling_mean(close, 20) / rolling_mean(close, 100) - 1"},
    {"name": "mean_1m", "formula": "rolling_mean(trade_price, '1m')"},
    {"name": "vol_100", "formula": "rolling_std(ret_1, 100)"},
    {"name": "vol_5m", "formula": "rolling_std(ret_1, '5m')"},
    {"name": "realized_vol", "formula": "sqrt(rolling_sum(ret_1 ** 2, 1000))"},
    {"name": "volume_1m", "formula": "rolling_sum(volume, '1m')"},
    {"name": "volume_1000", "formula": "rolling_sum(trade_size, 1000, 10)"},
    {"name": "range_100", "formula": "(rolling_max(close, 100) - rolling_min(close, 100)) / close"},
    {"name": "high_5m", "formula": "rolling_max(close, '5m')"},
    {"name": "mid_5m", "formula": "(high_5m + rolling_min(close, '5m')) / 2"},
    {"name": "pv_corr_100", "formula": "rolling_corr(close, volume, 100)"},
    {"name": "rv_corr_5m", "formula": "rolling_corr(ret_1, log(volume), '5m')"},
    {"name": "decayed_volume_100", "formula": "decay_accum(volume, 100)"},
    {"name": "decayed_volume_30s", "formula": "decay_accum(trade_size, '30s')"},
    {"name": "ewm_price_50", "formula": "ewm_mean(close, 50)"},
    {"name": "ewm_ret_1m", "formula": "ewm_mean(ret_1, '1m')"},
    {"name": "up", "formula": "ret_1 > 0"},
]


def load_features(path: Optional[Path]) -> List[Dict[str, str]]:
    """Feature specs from a feature-set YAML file (``features: [{name, formula}]``)."""
    if path is None or not path.exists():
        return FALLBACK_FEATURES
    text = path.read_text("utf-8")
    try:
        import yaml  # type: ignore

        doc = yaml.safe_load(text)
        return [dict(f) for f in doc["features"]]
    except ImportError:
        pass
    # The simple shape of the project's feature sets, without PyYAML.
    specs: List[Dict[str, str]] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#") or ":" not in s:
            continue
        if s.startswith("- name:"):
            specs.append({"name": s.split(":", 1)[1].strip()})
        elif specs and not line.startswith("- ") and s.split(":", 1)[0] in ("formula", "type"):
            key, value = s.split(":", 1)
            specs[-1][key] = value.strip()
    return specs


def synthetic_trades(rows: int, symbols: int, seed: int = 1) -> pa.Table:
    """Trades grouped by symbol, each symbol in time order (no client sort needed)."""
    rng = np.random.default_rng(seed)
    per = [rows // symbols + (1 if i < rows % symbols else 0) for i in range(symbols)]
    t0 = np.datetime64("2024-03-01T09:30:00", "us").astype(np.int64)
    times, syms, prices, sizes = [], [], [], []
    for i, n in enumerate(per):
        dt = rng.exponential(2_000_000, n).astype(np.int64)  # ~2s between trades
        times.append(t0 + np.cumsum(dt))
        syms.append(np.full(n, i, dtype=np.int32))
        prices.append((50 + 10 * i) * np.exp(np.cumsum(rng.normal(0, 5e-4, n))))
        sizes.append(rng.integers(1, 1000, n))
    names = pa.array([f"SYM{i:03d}" for i in range(symbols)])
    return pa.table({
        "event_time": pa.array(np.concatenate(times), pa.timestamp("us", tz="UTC")),
        "symbol": names.take(pa.array(np.concatenate(syms))),
        "trade_price": np.concatenate(prices),
        "trade_size": np.concatenate(sizes).astype(np.int64),
    })


def start_server() -> "tuple[subprocess.Popen, str]":
    binary = os.environ.get("FDAG_FLIGHT_BIN")
    if not binary:
        go = shutil.which("go")
        if go is None:
            sys.exit("set FDAG_FLIGHT_BIN or --location, or install Go to build fdag-flight")
        out = Path(tempfile.mkdtemp(prefix="fdag-bench-")) / "fdag-flight"
        subprocess.run([go, "build", "-o", str(out), "./cmd/fdag-flight"], cwd=REPO, check=True)
        binary = str(out)
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
    if not line.startswith("listening on "):
        proc.kill()
        sys.exit(f"fdag-flight did not start: {line!r}")
    threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()  # type: ignore[union-attr]
    return proc, "grpc://" + line[len("listening on "):]


def report(label: str, rows: int, nbytes: int, seconds: float) -> None:
    print(f"{label:<28} {seconds:8.3f} s  {rows / seconds / 1e6:8.2f} M rows/s  "
          f"{nbytes / seconds / 1e6:9.1f} MB/s", flush=True)


def run_compute(client: fdag.FeatureClient, table: pa.Table, features, chunk_rows: int, sort: bool) -> float:
    t0 = time.perf_counter()
    result = client.compute(table, features, chunk_rows=chunk_rows, sort=sort)
    dt = time.perf_counter() - t0
    if not result.ok:
        print(f"  failed features: {result.errors}")
    nbytes = table.nbytes + result.table.nbytes
    report(f"compute {len(result.features)} features", table.num_rows, nbytes, dt)
    return dt


def run_echo(client: fdag.FeatureClient, table: pa.Table, chunk_rows: int) -> Optional[float]:
    """The transport alone: DoExchange ``{"echo": true}`` returns the input batches unchanged.

    Returns the seconds taken, or None when the server has no echo.
    """
    t0 = time.perf_counter()
    try:
        out, _ = client.exchange_raw({"echo": True}, table, chunk_rows=chunk_rows)
    except fdag.FdagError as e:
        print(f"echo: not offered by this server ({type(e).__name__}: {e})")
        return None
    dt = time.perf_counter() - t0
    if out.num_rows != table.num_rows:
        print(f"echo: returned {out.num_rows} rows for {table.num_rows}")
        return None
    report("echo (transport only)", table.num_rows, table.nbytes + out.nbytes, dt)
    return dt


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of trades (default 1M; try 10000000)")
    p.add_argument("--symbols", type=int, default=20)
    p.add_argument("--chunk-rows", type=int, default=fdag.DEFAULT_CHUNK_ROWS)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--location", help="an already running server (default: start one)")
    p.add_argument("--token")
    p.add_argument("--features", type=Path, default=REPO / "testdata" / "features" / "demo.yaml")
    p.add_argument("--sort", action="store_true", help="let the client sort (adds the sort to the timing)")
    p.add_argument("--echo", action="store_true", help='also time DoExchange {"echo": true} (transport only)')
    args = p.parse_args(argv)

    features = load_features(args.features)
    table = synthetic_trades(args.rows, args.symbols)
    print(f"{table.num_rows:,} rows x {len(features)} features, {table.nbytes / 1e6:.1f} MB in, "
          f"chunk_rows={args.chunk_rows}, pyarrow {pa.__version__}", flush=True)

    proc = None
    location = args.location
    if location is None:
        proc, location = start_server()
    try:
        with fdag.FeatureClient(location, token=args.token) as client:
            client.health()
            for _ in range(args.repeat):
                run_compute(client, table, features, args.chunk_rows, args.sort)
            if args.echo:
                for _ in range(args.repeat):
                    if run_echo(client, table, args.chunk_rows) is None:
                        break
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
