"""Qlib's own expression engine on bars, offline: a Qlib data directory in
its binary layout (calendars/day.txt, instruments/all.txt,
features/<symbol>/<field>.day.bin: little-endian float32, the calendar
index of the first row, then the values), then qlib.init and
D.features, as a Qlib user computes Alpha158.

Used by test_alpha158.py and by bench/qlib_alpha158.py."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

FIELDS = ("open", "high", "low", "close", "volume", "vwap")


def make_bars(symbols: int, rows: int, seed: int = 7) -> pd.DataFrame:
    """Daily OHLCV bars of a few symbols: a geometric random walk, highs and
    lows around it, positive volumes, vwap inside the bar. Every value is
    rounded to float32, the precision Qlib stores, so both engines read the
    same numbers."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2000-01-03", periods=rows)
    frames = []
    for s in range(symbols):
        close = 20.0 * (1 + s) * np.exp(np.cumsum(rng.normal(0, 0.02, rows)))
        open_ = close * np.exp(rng.normal(0, 0.01, rows))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, rows)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, rows)))
        vwap = low + (high - low) * rng.uniform(0.2, 0.8, rows)
        volume = rng.lognormal(13, 0.5, rows)
        df = pd.DataFrame({"symbol": f"SYM{s:03d}", "event_time": dates,
                           "open": open_, "high": high, "low": low, "close": close,
                           "volume": volume, "vwap": vwap})
        frames.append(df)
    bars = pd.concat(frames, ignore_index=True)
    for f in FIELDS:
        bars[f] = bars[f].astype(np.float32).astype(np.float64)
    bars["event_time"] = bars["event_time"].astype("datetime64[us]")
    return bars


def write_qlib_dir(bars: pd.DataFrame, root: Path) -> None:
    """Writes bars as a Qlib data directory (what scripts/dump_bin.py writes)."""
    cal = sorted(bars["event_time"].unique())
    index = {t: i for i, t in enumerate(cal)}
    (root / "calendars").mkdir(parents=True, exist_ok=True)
    (root / "instruments").mkdir(exist_ok=True)
    (root / "calendars" / "day.txt").write_text("".join(pd.Timestamp(t).strftime("%Y-%m-%d") + "\n" for t in cal))
    lines = []
    for sym, g in bars.groupby("symbol", sort=True):
        first, last = pd.Timestamp(g["event_time"].iloc[0]), pd.Timestamp(g["event_time"].iloc[-1])
        lines.append(f"{sym}\t{first:%Y-%m-%d}\t{last:%Y-%m-%d}\n")
        d = root / "features" / sym.lower()
        d.mkdir(parents=True, exist_ok=True)
        start = index[g["event_time"].iloc[0]]
        for f in FIELDS:
            np.hstack([[start], g[f].to_numpy()]).astype("<f4").tofile(d / f"{f}.day.bin")
    (root / "instruments" / "all.txt").write_text("".join(lines))


def qlib_features(root: Path, exprs: list[str], names: list[str], float64: bool = False) -> tuple[pd.DataFrame, float]:
    """Qlib's values of exprs over every instrument of root (one column per
    name, indexed by symbol and time) and the seconds D.features took.

    float64: Qlib reads its float32 files and computes with them, so its
    elementwise arithmetic rounds to float32 (x / Ref(x, 1) - 1 keeps about
    five digits), and D.features casts every result to float32. With float64
    set, each field is widened to float64 as it is read (the same values:
    the bars are float32 numbers) and each expression is evaluated by
    Qlib's own operators (Expression.load, what D.features calls) without
    that final cast, so the results can be compared far more tightly."""
    import qlib
    from qlib.constant import REG_CN
    from qlib.data import D
    from qlib.data.base import Feature

    if float64 and not getattr(Feature, "_fdag_float64", False):
        load = Feature._load_internal

        def load64(self, *args, **kwargs):
            return load(self, *args, **kwargs).astype(np.float64)

        Feature._load_internal = load64
        Feature._fdag_float64 = True
    # No expression or dataset cache: each run computes (a cache would
    # time a disk read, not the engine). kernels=1: one process, as fdag
    # compute runs here; Qlib's default spreads instruments over processes.
    qlib.init(provider_uri=str(root), region=REG_CN, expression_cache=None, dataset_cache=None,
              kernels=1, logging_level="WARNING")
    cal = (root / "calendars" / "day.txt").read_text().split()
    t0 = time.perf_counter()
    if float64:
        from qlib.data.data import ExpressionD

        instruments = [line.split("\t")[0] for line in (root / "instruments" / "all.txt").read_text().splitlines()]
        parts = []
        for sym in instruments:
            cols = {n: ExpressionD.get_expression_instance(e).load(sym, 0, len(cal) - 1, "day") for n, e in zip(names, exprs)}
            part = pd.DataFrame(cols)
            part.index = pd.MultiIndex.from_arrays([[sym] * len(part), pd.DatetimeIndex([cal[i] for i in part.index])])
            parts.append(part)
        df = pd.concat(parts)
    else:
        df = D.features(D.instruments("all"), exprs, start_time=cal[0], end_time=cal[-1])
    took = time.perf_counter() - t0
    df.columns = names
    df.index = df.index.set_names(["symbol", "event_time"])
    return df, took
