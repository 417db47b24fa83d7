"""Fixtures for end-to-end tests of the fdag binary.

The binary is taken from $FDAG_BIN (scripts/test.sh builds it and sets it);
without it every test here is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SYMBOL = "symbol"
TIME = "event_time"


@pytest.fixture(scope="session")
def fdag_bin() -> str:
    path = os.environ.get("FDAG_BIN")
    if not path:
        pytest.skip("FDAG_BIN is not set: build bin/fdag and set FDAG_BIN (scripts/test.sh does both)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"FDAG_BIN={path} is not an executable file")
    return path


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fdag")


def run_fdag(fdag_bin: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([fdag_bin, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"fdag {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def compute(fdag_bin: str, input_path: Path, output_path: Path, features: dict[str, str],
            extra: tuple[str, ...] = ()) -> tuple[pa.Table, dict[str, dict]]:
    """Runs `fdag compute` with inline features; returns the output table and
    the per-feature statuses from the schema metadata."""
    args = ["compute", "--input", str(input_path), "--output", str(output_path), *extra]
    for name, formula in features.items():
        args += ["--feature", f"{name}={formula}"]
    run_fdag(fdag_bin, *args)
    table = pq.read_table(output_path)
    meta = table.schema.metadata or {}
    raw = meta.get(b"fdag.features")
    assert raw is not None, f"output schema has no fdag.features metadata: {meta}"
    statuses = {s["name"]: s for s in json.loads(raw)}
    return table, statuses


def make_trades(seed: int = 7, rows_per_symbol: int = 3000) -> pa.Table:
    """Synthetic trades that exercise the awkward cases: several symbols,
    rows shuffled (not in time order in the file), millisecond times with
    many ties, nulls and NaN in price and size, a one-row symbol, and a
    symbol priced near 1e5 that moves by tiny amounts (where a naive
    sum-of-squares std loses every digit)."""
    rng = np.random.default_rng(seed)
    start_us = 1_704_153_600_000_000  # 2024-01-02T00:00:00Z
    gaps_ms = np.array([0, 0, 0, 1, 2, 5, 20, 100, 500, 2000, 8000])
    symbols, times, prices, sizes = [], [], [], []
    specs = [("BTC", 65000.0, 5e-4), ("ETH", 3000.0, 1e-3), ("BIG", 100000.0, 1e-9), ("XRP", 0.5, 2e-3)]
    for sym, p0, vol in specs:
        n = rows_per_symbol
        t = start_us + np.cumsum(rng.choice(gaps_ms, size=n)) * 1000
        if sym == "BIG":
            # 1e5 plus moves of about 1e-4: tiny relative to the level.
            p = p0 + np.round(np.cumsum(rng.normal(0, 1e-4, size=n)), 6)
        else:
            p = p0 * np.exp(np.cumsum(rng.normal(0, vol, size=n)))
        s = np.exp(rng.normal(0, 1, size=n))
        symbols += [sym] * n
        times.append(t)
        prices.append(p)
        sizes.append(s)
    symbols.append("ONE")
    times.append(np.array([start_us + 1234_000]))
    prices.append(np.array([42.0]))
    sizes.append(np.array([1.5]))

    t = np.concatenate(times)
    p = np.concatenate(prices)
    s = np.concatenate(sizes)
    n = len(t)
    p[rng.random(n) < 0.01] = np.nan
    s[rng.random(n) < 0.01] = np.nan
    p_null = rng.random(n) < 0.02
    s_null = rng.random(n) < 0.02
    order = rng.permutation(n)
    return pa.table({
        SYMBOL: pa.array(np.array(symbols)[order]),
        TIME: pa.array(t[order], type=pa.timestamp("us", tz="UTC")),
        "price": pa.array(p[order], mask=p_null[order]),
        "size": pa.array(s[order], mask=s_null[order]),
    })


@pytest.fixture(scope="session")
def trades() -> pa.Table:
    return make_trades()


@pytest.fixture(scope="session")
def trades_parquet(trades, session_dir) -> Path:
    path = session_dir / "trades.parquet"
    pq.write_table(trades, path)
    return path
