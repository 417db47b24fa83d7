"""Synthetic trades and an independent Polars reference for the Flight suite.

The reference computes each feature with Polars expressions per symbol on the
rows sorted stably by (symbol, time), then puts the values back in the input
row order. Duration windows are compared only on rows that are the last of
their timestamp within their symbol: fdag excludes later rows with the same
timestamp (no look-ahead), Polars' rolling_*_by includes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

T0 = np.datetime64("2024-03-01T09:30:00", "us")


def make_trades(rows_per_symbol: int = 700, seed: int = 7, symbols: Sequence[str] = ("AAA", "BBB", "CCC"),
                null_size_fraction: float = 0.02) -> pa.Table:
    """Trades of a few symbols interleaved in time order: event_time
    (timestamp[us, UTC]) with ties inside a symbol, symbol (string),
    trade_price (float64 random walk) and trade_size (int64 with a few nulls)."""
    rng = np.random.default_rng(seed)
    frames = []
    base_prices = [100.0, 5000.0, 20.0, 1.5, 750.0]
    for k, sym in enumerate(symbols):
        steps_us = rng.choice([0, 200_000, 1_000_000, 3_000_000, 15_000_000, 70_000_000],
                              p=[0.15, 0.2, 0.3, 0.2, 0.1, 0.05], size=rows_per_symbol)
        t = T0 + np.cumsum(steps_us).astype("timedelta64[us]") + np.timedelta64(k * 1000, "us")
        price = base_prices[k % len(base_prices)] * np.exp(np.cumsum(rng.normal(0, 1e-3, rows_per_symbol)))
        size = rng.integers(1, 500, rows_per_symbol)
        valid = rng.random(rows_per_symbol) >= null_size_fraction
        frames.append(pl.DataFrame({
            "event_time": t,
            "symbol": [sym] * rows_per_symbol,
            "trade_price": price,
            "trade_size": pl.Series([int(x) if v else None for x, v in zip(size, valid)], dtype=pl.Int64),
        }))
    df = pl.concat(frames).sort("event_time", maintain_order=True)
    df = df.with_columns(pl.col("event_time").dt.replace_time_zone("UTC"))
    return _to_arrow(df)


def _to_arrow(df: pl.DataFrame) -> pa.Table:
    t = df.to_arrow()
    # Plain string instead of Polars' string view / large string.
    fields = [pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) or str(f.type) == "string_view"
                       else f.type) for f in t.schema]
    return t.cast(pa.schema(fields))


@dataclass(frozen=True)
class RefFeature:
    name: str
    formula: str
    expr: Callable[[], pl.Expr]  # Polars expression over one symbol's sorted rows
    duration: bool = False       # a duration window: compare on last-of-timestamp rows only
    rtol: float = 1e-9
    atol: float = 1e-12

    @property
    def spec(self) -> Dict[str, str]:
        return {"name": self.name, "formula": self.formula}


close = lambda: pl.col("trade_price")  # noqa: E731
volume = lambda: pl.col("trade_size").cast(pl.Float64)  # noqa: E731
ret1 = lambda: close().log() - close().shift(1).log()  # noqa: E731


def _by(fn: str, col: Callable[[], pl.Expr], w: str) -> Callable[[], pl.Expr]:
    def expr() -> pl.Expr:
        e = getattr(col(), f"rolling_{fn}_by")("event_time", window_size=w, closed="right")
        # Polars' rolling_sum_by answers 0.0 for a window holding only nulls
        # (its rolling_mean_by/max_by and row-window rolling_sum answer null).
        # The contract says nulls do not count towards min_samples (1), so
        # such a window is null: the reference follows the contract there.
        n = col().is_not_null().cast(pl.Int64).rolling_sum_by("event_time", window_size=w, closed="right")
        return pl.when(n > 0).then(e).otherwise(None)
    return expr


FEATURES: List[RefFeature] = [
    RefFeature("log_close", "log(close)", lambda: close().log()),
    RefFeature("ret_1", "log(close) - log(lag(close, 1))", ret1),
    RefFeature("lag_3", "lag(close, 3)", lambda: close().shift(3)),
    RefFeature("diff_5", "diff(close, 5)", lambda: close().diff(5), atol=1e-9),
    RefFeature("sma_20", "rolling_mean(close, 20)", lambda: close().rolling_mean(20)),
    RefFeature("std_20", "rolling_std(close, 20)", lambda: close().rolling_std(20), rtol=1e-7, atol=1e-9),
    RefFeature("sum_vol_10", "rolling_sum(volume, 10)", lambda: volume().rolling_sum(10)),
    RefFeature("sum_vol_10_min3", "rolling_sum(volume, 10, 3)", lambda: volume().rolling_sum(10, min_samples=3)),
    RefFeature("min_15", "rolling_min(close, 15)", lambda: close().rolling_min(15)),
    RefFeature("max_15", "rolling_max(close, 15)", lambda: close().rolling_max(15)),
    RefFeature("ewm_10", "ewm_mean(close, 10)",
               lambda: close().ewm_mean(half_life=10, adjust=True, min_samples=1, ignore_nulls=False),
               rtol=1e-9),
    # A DAG edge: ret_1 is another feature of the request.
    RefFeature("vol_30", "rolling_std(ret_1, 30)", lambda: ret1().rolling_std(30), rtol=1e-6, atol=1e-12),
    RefFeature("abs_sqrt", "sqrt(abs(diff(close)))", lambda: close().diff(1).abs().sqrt(), atol=1e-12),
    # Duration windows (Polars rolling_*_by, closed='right', min_samples 1).
    RefFeature("mean_1m", "rolling_mean(close, '1m')", _by("mean", close, "1m"), duration=True),
    RefFeature("sum_vol_30s", "rolling_sum(volume, '30s')", _by("sum", volume, "30s"), duration=True),
    RefFeature("max_5m", "rolling_max(close, '5m')", _by("max", close, "5m"), duration=True),
    RefFeature("min_5m", "rolling_min(close, '5m')", _by("min", close, "5m"), duration=True),
    RefFeature("std_2m", "rolling_std(close, '2m')", _by("std", close, "2m"), duration=True, rtol=1e-7, atol=1e-9),
]


def reference(table: pa.Table, features: Sequence[RefFeature] = FEATURES) -> Dict[str, List[Optional[float]]]:
    """Feature values in ``table``'s row order, plus ``__last_of_time__``:
    True on rows that are the last of their (symbol, time)."""
    df = pl.from_arrow(table).with_row_index("__row__")
    df = df.sort(["symbol", "event_time"], maintain_order=True)
    parts = []
    for _, part in df.group_by("symbol", maintain_order=True):
        part = part.sort("event_time", maintain_order=True)
        cols = [f.expr().cast(pl.Float64).alias(f.name) for f in features]
        last = (pl.col("event_time") != pl.col("event_time").shift(-1)).fill_null(True).alias("__last_of_time__")
        parts.append(part.select(["__row__", *cols, last]))
    out = pl.concat(parts).sort("__row__")
    return {c: out[c].to_list() for c in out.columns if c != "__row__"}


def compare(name: str, actual: Sequence[Optional[float]], expected: Sequence[Optional[float]], *,
            rtol: float, atol: float, mask: Optional[Sequence[bool]] = None,
            context: Optional[pa.Table] = None) -> None:
    """Assert equal null positions and close values (NaN equals NaN)."""
    assert len(actual) == len(expected), f"{name}: {len(actual)} rows, expected {len(expected)}"
    bad = []
    checked = 0
    for i, (a, e) in enumerate(zip(actual, expected)):
        if mask is not None and not mask[i]:
            continue
        checked += 1
        if a is None or e is None:
            ok = a is None and e is None
        elif math.isnan(e) or math.isnan(a):
            ok = math.isnan(e) and math.isnan(a)
        elif math.isinf(e) or math.isinf(a):
            ok = a == e
        else:
            ok = abs(a - e) <= atol + rtol * abs(e)
        if not ok:
            bad.append(i)
    if bad:
        lines = []
        for i in bad[:8]:
            where = ""
            if context is not None:
                where = f" symbol={context['symbol'][i].as_py()} time={context['event_time'][i].as_py()}"
            lines.append(f"  row {i}{where}: fdag={actual[i]!r} polars={expected[i]!r}")
        raise AssertionError(f"{name}: {len(bad)} of {checked} compared rows differ:\n" + "\n".join(lines))
    assert checked > 0, f"{name}: no rows compared"
