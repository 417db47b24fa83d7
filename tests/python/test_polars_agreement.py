"""fdag compute agrees with Polars (and with plain loops where fdag differs
on purpose or Polars is numerically weak), for every built-in.

References (see reference.py):
- Polars, computed independently on the input sorted by (symbol, time),
  stable, with `.over("symbol")`: elementwise functions, operators, lag,
  diff, row-window mean/sum/min/max, ewm_mean / ewm_mean_by.
- Duration windows: Polars `rolling_*_by(closed="right")` includes later
  rows with the same timestamp and fdag never does, so Polars is compared
  only on rows that are the last of their timestamp within their symbol;
  every row is then checked against a loop implementing fdag's rule.
- rolling_median, rolling_quantile (interpolation="linear"), rolling_var and rolling_count (as a rolling sum of is_not_null): Polars,
  rows and (rolling_*_by) durations;
- rolling_rank: Polars' rolling_rank(method="average") over the non-null count, and a loop;
  rolling_skew/kurt: Polars bias=False (rolling_skew, rolling_kurtosis; rolling() over time for
  durations), and a two-pass loop about the first value for prices near 1e5;
- rolling_wma: a loop (weights 1..n by position in the window);
  max/min (max_horizontal), clip, where (when/then/otherwise), fill_null.
- rolling_std, rolling_corr and rolling_cov: a two-pass numpy loop (Polars' raw-moment
  corr can be off); std/corr of fewer than two values is null.
- decay_accum: a plain loop (Polars has none).
- cum_sum, cum_max, cum_min: Polars' cum_*.
Values must agree within rel 1e-9 / abs 1e-12, NaN equal to NaN, with the
same null positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import SYMBOL, TIME, compute, run_fdag
from reference import (
    back_to_input_order,
    last_of_timestamp,
    loop_decay_accum,
    loop_rolling,
    sort_for_reference,
)

RTOL, ATOL = 1e-9, 1e-12
P, S = pl.col("price"), pl.col("size")

Ref = Callable[[pl.DataFrame], pl.Series]


def per_symbol(expr: pl.Expr) -> Ref:
    return lambda d: d.select(expr.over(SYMBOL).alias("v"))["v"].cast(pl.Float64)


def elementwise(expr: pl.Expr) -> Ref:
    return lambda d: d.select(expr.alias("v"))["v"].cast(pl.Float64)


def loop(how: str, x: str, window, min_samples=None, y: str | None = None) -> Ref:
    return lambda d: loop_rolling(d, how, d[x], window, min_samples, None if y is None else d[y])


def by_time(fn: str, x: pl.Expr, window: str, min_samples: int = 1) -> Ref:
    return per_symbol(getattr(x, f"rolling_{fn}_by")(TIME, window_size=window, min_samples=min_samples,
                                                      closed="right"))


@dataclass
class Case:
    name: str
    formula: str
    ref: Ref
    # Duration windows: Polars agrees only on the last row of a timestamp.
    last_of_timestamp_only: bool = False


CASES = [
    # elementwise and operators
    Case("log_price", "log(price)", elementwise(P.log())),
    Case("log_zero", "log(size * 0)", elementwise((S * 0).log())),
    Case("exp_neg", "exp(-size)", elementwise((-S).exp())),
    Case("abs_diff", "abs(diff(price))", per_symbol((P - P.shift(1)).abs())),
    Case("sqrt_m1", "sqrt(size - 1)", elementwise((S - 1).sqrt())),
    Case("neg", "-price", elementwise(-P)),
    Case("add", "price + size", elementwise(P + S)),
    Case("sub", "price - size", elementwise(P - S)),
    Case("mul", "price * size", elementwise(P * S)),
    Case("div", "price / (size - 1)", elementwise(P / (S - 1))),
    Case("div_zero", "size / 0", elementwise(S / 0.0)),
    Case("zero_div_zero", "(size * 0) / 0", elementwise((S * 0) / 0.0)),
    Case("pow2", "size ** 2", elementwise(S.pow(2))),
    Case("pow_half", "size ** 0.5", elementwise(S.pow(0.5))),
    Case("gt", "price > lag(price)", per_symbol(P > P.shift(1))),
    Case("lt", "size < 1", elementwise(S < 1)),
    Case("ge", "size >= 1", elementwise(S >= 1)),
    Case("le", "size <= 1", elementwise(S <= 1)),
    Case("eq", "price == lag(price)", per_symbol(P == P.shift(1))),
    Case("ne", "price != lag(price)", per_symbol(P != P.shift(1))),
    # elementwise with their own null rules
    Case("sign_diff", "sign(diff(price))", per_symbol((P - P.shift(1)).sign())),
    Case("log1p", "log1p(size - 1)", elementwise((S - 1).log1p())),
    Case("tanh", "tanh(size - 1)", elementwise((S - 1).tanh())),
    Case("max2", "max(price, size)", elementwise(pl.max_horizontal(P, S))),
    Case("min3", "min(price, size, 100)", elementwise(pl.min_horizontal(P, S, pl.lit(100.0)))),
    Case("max_lag", "max(price, lag(price), lag(price, 2))",
         per_symbol(pl.max_horizontal(P, P.shift(1), P.shift(2)))),
    Case("clip", "clip(size, 0.5, 2)", elementwise(S.clip(0.5, 2.0))),
    Case("where", "where(size > 1, price, -price)", elementwise(pl.when(S > 1).then(P).otherwise(-P))),
    Case("fill_null", "fill_null(lag(price), price)", per_symbol(P.shift(1).fill_null(P))),
    # shifts
    Case("lag_1", "lag(price)", per_symbol(P.shift(1))),
    Case("lag_5", "lag(price, 5)", per_symbol(P.shift(5))),
    Case("diff_1", "diff(price)", per_symbol(P - P.shift(1))),
    Case("diff_3", "diff(price, 3)", per_symbol(P - P.shift(3))),
    # row windows
    Case("mean_1", "rolling_mean(price, 1)", per_symbol(P.rolling_mean(1))),
    Case("mean_20", "rolling_mean(price, 20)", per_symbol(P.rolling_mean(20))),
    Case("mean_100_5", "rolling_mean(price, 100, 5)", per_symbol(P.rolling_mean(100, min_samples=5))),
    Case("sum_20", "rolling_sum(size, 20)", per_symbol(S.rolling_sum(20))),
    Case("sum_1000_10", "rolling_sum(size, 1000, 10)", per_symbol(S.rolling_sum(1000, min_samples=10))),
    Case("min_20", "rolling_min(price, 20)", per_symbol(P.rolling_min(20))),
    Case("min_100_10", "rolling_min(price, 100, 10)", per_symbol(P.rolling_min(100, min_samples=10))),
    Case("max_1", "rolling_max(price, 1)", per_symbol(P.rolling_max(1))),
    Case("max_20", "rolling_max(price, 20)", per_symbol(P.rolling_max(20))),
    Case("std_2", "rolling_std(price, 2)", loop("std", "price", 2)),
    Case("std_20", "rolling_std(price, 20)", loop("std", "price", 20)),
    Case("std_100_3", "rolling_std(price, 100, 3)", loop("std", "price", 100, 3)),
    Case("corr_20", "rolling_corr(price, size, 20)", loop("corr", "price", 20, y="size")),
    Case("corr_100_10", "rolling_corr(price, size, 100, 10)", loop("corr", "price", 100, 10, y="size")),
    Case("var_20", "rolling_var(price, 20)", per_symbol(P.rolling_var(20))),
    Case("var_100_3", "rolling_var(size, 100, 3)", per_symbol(S.rolling_var(100, min_samples=3))),
    Case("median_20", "rolling_median(price, 20)", per_symbol(P.rolling_median(20))),
    Case("median_100_3", "rolling_median(size, 100, 3)", per_symbol(S.rolling_median(100, min_samples=3))),
    Case("quantile_50_q9", "rolling_quantile(price, 50, 0.9)",
         per_symbol(P.rolling_quantile(0.9, interpolation="linear", window_size=50))),
    # Polars' rolling_cov uses raw moments (about 1e-6 relative off here):
    # a two-pass loop is the reference.
    Case("cov_20", "rolling_cov(price, size, 20)", loop("cov", "price", 20, y="size")),
    Case("cov_1m", "rolling_cov(price, size, '1m')", loop("cov", "price", "1m", y="size")),
    Case("count_20", "rolling_count(price, 20)",
         per_symbol(P.is_not_null().cast(pl.Float64).rolling_sum(20, min_samples=1))),
    # rank: Polars' average rank over the window's non-null count (Qlib's
    # Rank and pandas' rank(pct=True) are the same number, see reference.py)
    Case("rank_20", "rolling_rank(price, 20)",
         per_symbol(P.rolling_rank(20) / P.is_not_null().cast(pl.Float64).rolling_sum(20, min_samples=1))),
    Case("rank_50_1", "rolling_rank(size, 50, 1)",
         per_symbol(S.rolling_rank(50, min_samples=1) / S.is_not_null().cast(pl.Float64).rolling_sum(50, min_samples=1))),
    Case("rank_loop_20", "rolling_rank(price, 20)", loop("rank", "price", 20)),
    Case("rank_1m", "rolling_rank(price, '1m')", loop("rank", "price", "1m")),
    # wma: Polars has none (its weighted rolling_mean does not renormalise
    # around nulls); a loop with weights 1..n by position.
    Case("wma_20", "rolling_wma(price, 20)", loop("wma", "price", 20)),
    Case("wma_10_3", "rolling_wma(size, 10, 3)", loop("wma", "size", 10, 3)),
    Case("wma_30s", "rolling_wma(price, '30s')", loop("wma", "price", "30s")),
    # skew/kurt: Polars with bias=False on sizes; a two-pass loop on prices
    # (1e5 with tiny moves) and duration windows.
    Case("skew_20", "rolling_skew(size, 20)", per_symbol(S.rolling_skew(20, bias=False))),
    Case("kurt_30", "rolling_kurt(size, 30)", per_symbol(S.rolling_kurtosis(30, fisher=True, bias=False))),
    Case("skew_loop_20", "rolling_skew(price, 20)", loop("skew", "price", 20)),
    Case("kurt_loop_50_5", "rolling_kurt(price, 50, 5)", loop("kurt", "price", 50, 5)),
    Case("skew_1m", "rolling_skew(price, '1m')", loop("skew", "price", "1m")),
    Case("kurt_1m", "rolling_kurt(size, '1m')", loop("kurt", "size", "1m")),
    # duration windows, std/corr by loop on every row
    Case("std_1m", "rolling_std(price, '1m')", loop("std", "price", "1m")),
    Case("corr_5m", "rolling_corr(price, size, '5m')", loop("corr", "price", "5m", y="size")),
    # cumulative (from the first input row; nulls stay null)
    Case("cum_sum", "cum_sum(size)", per_symbol(S.cum_sum())),
    Case("cum_max", "cum_max(price)", per_symbol(P.cum_max())),
    Case("cum_min", "cum_min(price)", per_symbol(P.cum_min())),
    # decay
    Case("decay_10", "decay_accum(size, 10)", lambda d: loop_decay_accum(d, d["size"], 10)),
    Case("decay_2_5", "decay_accum(size, 2.5)", lambda d: loop_decay_accum(d, d["size"], 2.5)),
    Case("decay_30s", "decay_accum(size, '30s')", lambda d: loop_decay_accum(d, d["size"], "30s")),
    Case("ewm_10", "ewm_mean(price, 10)",
         per_symbol(P.ewm_mean(half_life=10, adjust=True, min_samples=1, ignore_nulls=False))),
    Case("ewm_3_5", "ewm_mean(size, 3.5)",
         per_symbol(S.ewm_mean(half_life=3.5, adjust=True, min_samples=1, ignore_nulls=False))),
    Case("ewm_1m", "ewm_mean(price, '1m')", per_symbol(P.ewm_mean_by(TIME, half_life="1m"))),
    Case("ewm_10s", "ewm_mean(size, '10s')", per_symbol(S.ewm_mean_by(TIME, half_life="10s"))),
    # aliases (set on the command line below) and a feature using another
    Case("alias_mean", "rolling_mean(close, 20)", per_symbol(P.rolling_mean(20))),
    Case("alias_ratio", "volume / close", elementwise(S / P)),
    Case("ret", "log(price) - log(lag(price))", per_symbol(P.log() - P.shift(1).log())),
    Case("ret_vol", "rolling_std(ret, 20)",
         lambda d: loop_rolling(d, "std", per_symbol(P.log() - P.shift(1).log())(d), 20)),
]

# Duration windows (Polars rolling_*_by, or rolling() over time): (name, formula, Polars fn, column, window, min_samples)
DURATION_CASES = [
    ("mean_1m", "rolling_mean(price, '1m')", "mean", "price", "1m", 1),
    ("mean_1m_5", "rolling_mean(price, '1m', 5)", "mean", "price", "1m", 5),
    ("sum_5m", "rolling_sum(size, '5m')", "sum", "size", "5m", 1),
    ("sum_500ms", "rolling_sum(size, '500ms')", "sum", "size", "500ms", 1),
    ("min_30s", "rolling_min(price, '30s')", "min", "price", "30s", 1),
    ("max_1m", "rolling_max(price, '1m')", "max", "price", "1m", 1),
    ("var_1m", "rolling_var(price, '1m')", "var", "price", "1m", 1),
    ("median_30s", "rolling_median(price, '30s')", "median", "price", "30s", 1),
    ("median_1m_3", "rolling_median(size, '1m', 3)", "median", "size", "1m", 3),
    ("quantile_1m_q9", "rolling_quantile(price, '1m', 0.9)", "q90", "price", "1m", 1),
    ("skew_5m", "rolling_skew(size, '5m')", "skew", "size", "5m", 1),
    ("kurt_5m", "rolling_kurt(size, '5m')", "kurt", "size", "5m", 1),
]


def _by_time_ref(fn: str, x: pl.Expr, window: str, min_samples: int) -> Ref:
    """Polars' rolling_*_by for fn (a reduce name of reference.py)."""
    if fn == "q90":
        return per_symbol(x.rolling_quantile_by(TIME, window_size=window, quantile=0.9, interpolation="linear",
                                                min_samples=min_samples, closed="right"))
    if fn in ("skew", "kurt"):  # Polars has no rolling_skew_by: rolling() over time
        stat, fewest = (x.drop_nulls().skew(bias=False), 3) if fn == "skew" else (
            x.drop_nulls().kurtosis(fisher=True, bias=False), 4)
        return lambda d: d.rolling(TIME, period=window, closed="right", group_by=SYMBOL).agg(
            stat.alias("v"), x.count().alias("n")).select(
            pl.when(pl.col("n") >= max(fewest, min_samples)).then(pl.col("v")))["v"].cast(pl.Float64)
    return by_time(fn, x, window, min_samples)


for _name, _formula, _fn, _col, _w, _m in DURATION_CASES:
    CASES.append(Case(_name, _formula, _by_time_ref(_fn, pl.col(_col), _w, _m), last_of_timestamp_only=True))

ALIASES = ("--alias", "close=price", "--alias", "volume=size")


def assert_agree(got: pl.Series, want: pl.Series, label: str, rows: np.ndarray | None = None) -> None:
    assert len(got) == len(want), f"{label}: {len(got)} rows, want {len(want)}"
    g_null, w_null = got.is_null().to_numpy(), want.is_null().to_numpy()
    g = got.cast(pl.Float64).fill_null(0.0).to_numpy()
    w = want.cast(pl.Float64).fill_null(0.0).to_numpy()
    sel = np.ones(len(g), dtype=bool) if rows is None else rows
    bad_null = np.flatnonzero(sel & (g_null != w_null))
    assert len(bad_null) == 0, (
        f"{label}: null positions differ at {len(bad_null)} rows, first {bad_null[:5].tolist()}: "
        f"fdag {[None if g_null[i] else g[i] for i in bad_null[:5]]}, "
        f"reference {[None if w_null[i] else w[i] for i in bad_null[:5]]}"
    )
    both = sel & ~g_null
    ok = np.isclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True) | (g == w)
    bad = np.flatnonzero(both & ~ok)
    assert len(bad) == 0, (
        f"{label}: {len(bad)} values differ, first rows {bad[:5].tolist()}: "
        f"fdag {g[bad[:5]].tolist()}, reference {w[bad[:5]].tolist()}"
    )


@pytest.fixture(scope="module")
def synthetic(fdag_bin, trades, trades_parquet, session_dir):
    features = {c.name: c.formula for c in CASES}
    table, statuses = compute(fdag_bin, trades_parquet, session_dir / "synthetic_out.parquet", features, ALIASES)
    assert table.num_rows == trades.num_rows
    df = pl.from_arrow(trades)
    return sort_for_reference(df), pl.from_arrow(table), statuses


def _feature_column(out: pl.DataFrame, statuses: dict, name: str) -> pl.Series:
    status = statuses.get(name)
    assert status is not None, f"{name}: missing from fdag.features metadata"
    assert status["status"] == "success", f"{name}: fdag reported {status}"
    assert out.schema[name] == pl.Float64
    return out[name]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_agrees_with_reference(synthetic, case: Case):
    d, out, statuses = synthetic
    got = _feature_column(out, statuses, case.name)
    want = back_to_input_order(d, case.ref(d))
    rows = last_of_timestamp(d) if case.last_of_timestamp_only else None
    assert_agree(got, want, f"{case.name} = {case.formula}", rows)


@pytest.mark.parametrize("case", DURATION_CASES, ids=lambda c: c[0])
def test_duration_windows_follow_fdag_rule(synthetic, case):
    """Every row, against a loop that never sees later rows of the same
    timestamp (DESIGN.md: no look-ahead)."""
    name, formula, fn, col, window, min_samples = case
    d, out, statuses = synthetic
    got = _feature_column(out, statuses, name)
    want = back_to_input_order(d, loop_rolling(d, fn, d[col], window, min_samples))
    assert_agree(got, want, f"{name} = {formula} (fdag rule)")


def test_output_keeps_time_and_symbol_in_input_order(synthetic, trades):
    _, out, _ = synthetic
    assert out[TIME].to_list() == pl.from_arrow(trades)[TIME].to_list()
    assert out[SYMBOL].to_list() == pl.from_arrow(trades)[SYMBOL].to_list()


REAL = "/work/shared/data/real/binance_futures_btcusdt_tardis/tardis_trades.csv"


def test_real_binance_futures_trades(fdag_bin, tmp_path):
    import os

    if not os.path.exists(REAL):
        pytest.skip(f"{REAL} is not on this machine")
    raw = pacsv.read_csv(REAL)
    table = pa.table({
        SYMBOL: raw["symbol"],
        TIME: raw["timestamp"].cast(pa.timestamp("us", tz="UTC")),
        "price": raw["price"].cast(pa.float64()),
        "size": raw["amount"].cast(pa.float64()),
    })
    src = tmp_path / "tardis.parquet"
    pq.write_table(table, src)
    cases = [
        Case("ret", "log(close) - log(lag(close))", per_symbol(P.log() - P.shift(1).log())),
        Case("sma_20", "rolling_mean(close, 20)", per_symbol(P.rolling_mean(20))),
        Case("max_100", "rolling_max(close, 100)", per_symbol(P.rolling_max(100))),
        Case("vol_1m", "rolling_sum(volume, '1m')", by_time("sum", S, "1m"), last_of_timestamp_only=True),
        Case("std_100", "rolling_std(close, 100)", loop("std", "price", 100)),
        Case("corr_5m", "rolling_corr(close, volume, '5m')", loop("corr", "price", "5m", y="size")),
        Case("ewm_50", "ewm_mean(close, 50)",
             per_symbol(P.ewm_mean(half_life=50, adjust=True, min_samples=1, ignore_nulls=False))),
        Case("ewm_30s", "ewm_mean(close, '30s')", per_symbol(P.ewm_mean_by(TIME, half_life="30s"))),
        Case("decay_10s", "decay_accum(volume, '10s')", lambda d: loop_decay_accum(d, d["size"], "10s")),
    ]
    out_table, statuses = compute(fdag_bin, src, tmp_path / "out.parquet",
                                  {c.name: c.formula for c in cases}, ALIASES)
    out = pl.from_arrow(out_table)
    d = sort_for_reference(pl.from_arrow(table))
    last = last_of_timestamp(d)
    for c in cases:
        got = _feature_column(out, statuses, c.name)
        want = back_to_input_order(d, c.ref(d))
        assert_agree(got, want, f"real {c.name} = {c.formula}", last if c.last_of_timestamp_only else None)
    got = _feature_column(out, statuses, "vol_1m")
    assert_agree(got, back_to_input_order(d, loop_rolling(d, "sum", d["size"], "1m")), "real vol_1m (fdag rule)")


def test_failed_feature_is_reported_not_fatal(fdag_bin, trades_parquet, tmp_path):
    out = tmp_path / "out.parquet"
    proc = run_fdag(fdag_bin, "compute", "--input", str(trades_parquet), "--output", str(out),
                    "--feature", "good=log(price)", "--feature", "bad=rolling_mean(price)")
    assert "bad: " in proc.stderr
    table = pq.read_table(out)
    assert "good" in table.column_names and "bad" not in table.column_names


def test_exit_statuses(fdag_bin, trades_parquet, tmp_path):
    assert run_fdag(fdag_bin, "compute", "--help", check=False).returncode == 0
    assert run_fdag(fdag_bin, "compute", "--input", str(trades_parquet), check=False).returncode == 2
    proc = run_fdag(fdag_bin, "compute", "--input", str(trades_parquet), "--output", str(tmp_path / "o.parquet"),
                    "--feature", "bad=nope(price)", check=False)
    assert proc.returncode == 1 and "bad: " in proc.stderr
    proc = run_fdag(fdag_bin, "compute", "--input", str(tmp_path / "missing.parquet"),
                    "--output", str(tmp_path / "o.parquet"), "--feature", "x=log(price)", check=False)
    assert proc.returncode == 1


def test_string_comparison(fdag_bin, trades, tmp_path):
    """side == 'buy' / != against Polars on the trades with a string side
    column (nulls included): 1/0, null where side is null."""
    rng = np.random.default_rng(3)
    sides = rng.choice(np.array(["buy", "sell", None], dtype=object), size=trades.num_rows, p=[0.49, 0.49, 0.02])
    table = trades.append_column("side", pa.array(sides, type=pa.string()))
    src = tmp_path / "sided.parquet"
    pq.write_table(table, src)
    cases = [
        Case("is_buy", "side == 'buy'", elementwise((pl.col("side") == "buy").cast(pl.Float64))),
        Case("not_sell", "'sell' != side", elementwise((pl.col("side") != "sell").cast(pl.Float64))),
        Case("signed_20", "rolling_sum(where(side == 'buy', size, -size), 20, 1)",
             per_symbol(pl.when(pl.col("side") == "buy").then(S).otherwise(-S).rolling_sum(20, min_samples=1))),
    ]
    out_table, statuses = compute(fdag_bin, src, tmp_path / "out.parquet", {c.name: c.formula for c in cases}, ())
    out = pl.from_arrow(out_table)
    d = sort_for_reference(pl.from_arrow(table))
    for c in cases:
        assert_agree(_feature_column(out, statuses, c.name), back_to_input_order(d, c.ref(d)), c.formula)
