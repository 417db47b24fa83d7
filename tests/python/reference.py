"""Independent references for fdag's built-ins.

Polars is the reference for semantics. Where fdag differs on purpose
(duration windows never include later rows with the same timestamp) or
where Polars is numerically weak (rolling std/corr), plain loops over numpy
implement DESIGN.md's rule directly, with a two-pass (mean first) std and
corr so that large offsets with tiny moves keep their digits.
"""

from __future__ import annotations

import math
import re

import numpy as np
import polars as pl

SYMBOL = "symbol"
TIME = "event_time"
ROW = "__row"

_UNITS_US = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}


def duration_us(text: str) -> int:
    """'1m', '30s', '500ms', '1h30m' -> microseconds."""
    total, pos = 0, 0
    for m in re.finditer(r"(\d+)(ms|s|m|h)", text):
        assert m.start() == pos, text
        total += int(m.group(1)) * _UNITS_US[m.group(2)]
        pos = m.end()
    assert pos == len(text) and total > 0, text
    return total


def sort_for_reference(df: pl.DataFrame) -> pl.DataFrame:
    """Rows of a symbol in time order, ties keeping input order; __row
    remembers the input position so results can be put back."""
    return df.with_row_index(ROW).sort([SYMBOL, TIME], maintain_order=True)


def back_to_input_order(sorted_df: pl.DataFrame, values: pl.Series) -> pl.Series:
    return sorted_df.select(pl.col(ROW), values.alias("v")).sort(ROW)["v"]


def last_of_timestamp(sorted_df: pl.DataFrame) -> np.ndarray:
    """Mask, in input order, of rows that are the last of their timestamp
    within their symbol: there fdag's and Polars' duration windows agree."""
    nxt_same = (
        (sorted_df[SYMBOL] == sorted_df[SYMBOL].shift(-1))
        & (sorted_df[TIME] == sorted_df[TIME].shift(-1))
    ).fill_null(False)
    return back_to_input_order(sorted_df, ~nxt_same).to_numpy()


def _groups(sorted_df: pl.DataFrame):
    """(start, end) slices of each symbol in the sorted frame."""
    sym = sorted_df[SYMBOL].to_numpy()
    bounds = np.flatnonzero(sym[1:] != sym[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(sym)]])
    return zip(starts, ends)


def _values(s: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    null = s.is_null().to_numpy()
    return s.cast(pl.Float64).fill_null(0.0).to_numpy().copy(), null


def _std(x: np.ndarray) -> float:
    m = x.mean()
    return math.sqrt(((x - m) ** 2).sum() / (len(x) - 1))


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        dx, dy = x - x.mean(), y - y.mean()
        return float((dx * dy).sum() / math.sqrt((dx * dx).sum() * (dy * dy).sum()))


def _cov(x: np.ndarray, y: np.ndarray) -> float:
    """Two-pass sample covariance (ddof = 1)."""
    with np.errstate(invalid="ignore"):
        return float(((x - x.mean()) * (y - y.mean())).sum() / (len(x) - 1))


def _shape(x: np.ndarray, p: int) -> float | None:
    """Bias-corrected sample skewness (p = 3, G1) or excess kurtosis (p = 4,
    G2) as pandas computes them; None below p values, NaN for a constant
    window or one holding NaN/Inf. Two passes about the first value: x - x0
    is exact for prices, so the central moments keep their digits."""
    n = len(x)
    if n < p:
        return None
    if not np.isfinite(x).all():
        return math.nan
    d = x - x[0]
    e = d - d.mean()
    m2 = (e * e).mean()
    if m2 == 0:
        return math.nan
    if p == 3:
        return math.sqrt(n * (n - 1)) / (n - 2) * (e ** 3).mean() / m2 ** 1.5
    return (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * (e ** 4).mean() / m2 ** 2 - 3 * (n - 1))


def _rank(x: np.ndarray, cur: float) -> float:
    """Average rank of cur among x (cur included) over len(x); NaN is the
    largest value and equals NaN (Polars)."""
    nan = np.isnan(x)
    if math.isnan(cur):
        lt, eq = int((~nan).sum()), int(nan.sum())
    else:
        fin = x[~nan]
        lt, eq = int((fin < cur).sum()), int((fin == cur).sum())
    return (lt + (eq + 1) / 2) / len(x)


def _var(x: np.ndarray) -> float | None:
    if len(x) < 2:
        return None
    if not np.isfinite(x).all():
        return math.nan
    d = x - x[0]
    return float(((d - d.mean()) ** 2).sum() / (len(x) - 1))


def _quantile(x: np.ndarray, q: float) -> float:
    """Linear between the nearest ranks, NaN sorting largest (np.sort puts
    NaN last), as fdag and Polars' interpolation='linear'."""
    v = np.sort(x)
    pos = q * (len(v) - 1)
    k = math.floor(pos)
    if pos == k:
        return float(v[k])
    return float(v[k] + (v[k + 1] - v[k]) * (pos - k))


_REDUCE = {
    "mean": lambda v: float(v.mean()),
    "sum": lambda v: float(v.sum()),
    "min": lambda v: float(np.nan if np.isnan(v).any() else v.min()),
    "max": lambda v: float(np.nan if np.isnan(v).any() else v.max()),
    "std": lambda v: None if len(v) < 2 else _std(v),
    "var": _var,
    "median": lambda v: _quantile(v, 0.5),
    "q90": lambda v: _quantile(v, 0.9),
    "count": lambda v: float(len(v)),
    "skew": lambda v: _shape(v, 3),
    "kurt": lambda v: _shape(v, 4),
}


def loop_rolling(sorted_df: pl.DataFrame, how: str, x: pl.Series, window: int | str,
                 min_samples: int | None = None, y: pl.Series | None = None) -> pl.Series:
    """fdag's trailing window by a plain loop: the last `window` rows, or
    the rows with time in (t - w, t] up to and including the current row.
    Nulls are skipped and do not count towards min_samples; for corr a row
    counts when both inputs are non-null (corr, cov)."""
    xv, xnull = _values(x)
    if y is not None:
        yv, ynull = _values(y)
        valid = ~xnull & ~ynull
    else:
        valid = ~xnull
    t = sorted_df[TIME].dt.epoch("us").to_numpy()
    by_time = isinstance(window, str)
    if min_samples is None:
        min_samples = 1 if by_time else window
    w_us = duration_us(window) if by_time else 0
    out: list[float | None] = [None] * len(xv)
    for start, end in _groups(sorted_df):
        for i in range(start, end):
            if by_time:
                lo = start + int(np.searchsorted(t[start:end], t[i] - w_us, side="right"))
            else:
                lo = max(start, i - window + 1)
            keep = valid[lo:i + 1]
            if keep.sum() < min_samples:
                continue
            xs = xv[lo:i + 1][keep]
            if how == "wma":
                # Weights 1..n by position in the window, nulls included.
                w = (np.flatnonzero(keep) + 1).astype(float)
                with np.errstate(invalid="ignore"):
                    out[i] = float((w * xs).sum() / w.sum())
            elif how == "rank":
                out[i] = _rank(xs, xv[i]) if valid[i] else None
            elif how in ("corr", "cov"):
                pair = _corr if how == "corr" else _cov
                out[i] = None if len(xs) < 2 else pair(xs, yv[lo:i + 1][keep])
            else:
                out[i] = _REDUCE[how](xs)
    return pl.Series(out, dtype=pl.Float64)


def loop_decay_accum(sorted_df: pl.DataFrame, x: pl.Series, half_life: float | str) -> pl.Series:
    """acc_t = x_t + acc_{t-1} * 2^(-1/h), or 2^(-dt/h) for a duration h;
    null until the first non-null value, and a null x adds nothing."""
    xv, xnull = _values(x)
    t = sorted_df[TIME].dt.epoch("us").to_numpy()
    h_us = duration_us(half_life) if isinstance(half_life, str) else None
    out: list[float | None] = [None] * len(xv)
    for start, end in _groups(sorted_df):
        acc = None
        for i in range(start, end):
            if acc is not None:
                if h_us is None:
                    acc *= 2.0 ** (-1.0 / half_life)
                else:
                    acc *= 2.0 ** (-(t[i] - t[i - 1]) / h_us)
            if not xnull[i]:
                acc = xv[i] if acc is None else acc + xv[i]
            out[i] = acc
    return pl.Series(out, dtype=pl.Float64)
