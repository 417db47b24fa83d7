"""The warehouse over Flight, end to end: ingest (DoPut), list_tables
(ListFlights), fetch (GetFlightInfo + parallel DoGet, computed with warmup)
and read_table (DoGet of stored rows, including ft_features written by
``fdag run``), against a server on its own embedded warehouse."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import fdag

REPO = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
SYMBOLS = ["AAA", "BBB"]
FEATURES = {
    "ret_1": "log(close) - log(lag(close, 1))",
    "ma_100": "rolling_mean(close, 100)",
    "vol_5m": "rolling_std(ret_1, '5m')",
    "vsum_1h": "rolling_sum(volume, '1h')",
    "hi_500": "rolling_max(close, 500)",
}


def make_trades(seed: int = 11) -> pa.Table:
    """Three days of trades of two symbols, about one every 20 s, with
    repeated millisecond timestamps, in cdm_trade_enriched's layout."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, sym in enumerate(SYMBOLS):
        n = 12_000
        gaps = rng.choice([0, 1_000, 5_000_000, 20_000_000, 60_000_000], p=[0.2, 0.1, 0.3, 0.3, 0.1], size=n)
        t = np.datetime64(T0.replace(tzinfo=None), "us") + np.cumsum(gaps).astype("timedelta64[us]")
        t = t.astype("datetime64[ms]").astype("datetime64[us]")
        price = (100.0 + 900 * k) * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
        parts.append(pa.table({
            "symbol": pa.array([sym] * n),
            "venue": pa.array(["test"] * n),
            "event_time": pa.array(t, type=pa.timestamp("us", tz="UTC")),
            "trade_price": pa.array(price),
            "trade_size": pa.array(rng.lognormal(0, 1, n)),
            "side": pa.array(rng.choice(["buy", "sell"], n)),
            "trade_id": pa.array(np.arange(n, dtype=np.int64) + 1_000_000 * (k + 1)),
        }))
    return pa.concat_tables(parts)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def wh(start_server, project):
    server = start_server("--project", str(project), name="warehouse")
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def trades(wh) -> pa.Table:
    t = make_trades()
    res = wh.ingest(t)
    assert res.rows == t.num_rows and res.table == "cdm_trade_enriched", res
    return t


def in_range(t: pa.Table, sym: str, start: dt.datetime, end: dt.datetime) -> pa.Table:
    m = pc.and_(pc.equal(t["symbol"], sym),
                pc.and_(pc.greater_equal(t["event_time"], pa.scalar(start, pa.timestamp("us", tz="UTC"))),
                        pc.less(t["event_time"], pa.scalar(end, pa.timestamp("us", tz="UTC")))))
    return t.filter(m)


def test_list_tables(wh, trades):
    tables = {t.name: t for t in wh.list_tables()}
    assert "cdm_trade_enriched" in tables, tables
    info = tables["cdm_trade_enriched"]
    assert info.total_records == trades.num_rows
    assert {"symbol", "event_time", "trade_price", "trade_size"} <= set(info.schema.names)
    assert "cdm_trade_enriched" in repr(info)


def test_fetch_equals_compute_over_full_history(wh, trades):
    """fetch computes [start, end) from the warehouse with warmup: every
    row equals the same feature computed over the whole history."""
    start, end = T0 + dt.timedelta(hours=30), T0 + dt.timedelta(days=2, hours=6)
    feats = dict(FEATURES, bad="rolling_mean(close)")
    got = wh.fetch(SYMBOLS, start, end, feats)
    assert set(got.errors) == {"bad"} and "rolling_mean" in got.errors["bad"]
    assert got.server_metadata["endpoints"] == 4  # 2 symbols x (day 2 from 06:00, day 3 to 06:00)
    full = wh.compute(trades, FEATURES).table
    for sym in SYMBOLS:
        g = got.table.filter(pc.equal(got.table["symbol"], sym))
        w = in_range(full, sym, start, end)
        assert g.num_rows == w.num_rows > 1000
        assert g["event_time"].equals(w["event_time"])
        for name in FEATURES:
            gv = g[name].to_numpy(zero_copy_only=False)
            wv = w[name].to_numpy(zero_copy_only=False)
            np.testing.assert_allclose(gv, wv, rtol=1e-12, atol=0, equal_nan=True, err_msg=f"{sym} {name}")
            assert g[name].null_count == w[name].null_count, name


def test_fetch_sequential_equals_parallel(wh, trades):
    start, end = "2024-01-02", "2024-01-05"
    a = wh.fetch(SYMBOLS, start, end, FEATURES, parallel=True).table
    b = wh.fetch(SYMBOLS, start, end, FEATURES, parallel=False, shard="12h").table
    assert a.num_rows == trades.num_rows
    assert a.equals(b)


def test_read_table_filters(wh, trades):
    start, end = T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=29)
    got = wh.read_table("cdm_trade_enriched", symbols="BBB", start=start, end=end,
                        columns=["symbol", "event_time", "trade_price", "trade_id"])
    want = in_range(trades, "BBB", start, end)
    assert got.column_names == ["symbol", "event_time", "trade_price", "trade_id"]
    got = got.sort_by([("event_time", "ascending"), ("trade_id", "ascending")])
    assert got["trade_id"].to_pylist() == want["trade_id"].to_pylist()
    assert got["trade_price"].to_pylist() == want["trade_price"].to_pylist()



def test_read_ft_features_written_by_run(wh, trades, project, fdag_bin):
    """fdag run writes ft_features into the server's warehouse; read_table
    reads them back filtered by feature and symbol, equal to fetch."""
    binary = fdag_bin
    res = subprocess.run([binary, "run", "--project", str(project), "--feature", "ret_1=" + FEATURES["ret_1"],
                          "--feature", "ma_100=" + FEATURES["ma_100"], "--symbols", "AAA,BBB",
                          "--start", "2024-01-03", "--end", "2024-01-04"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    stored = wh.read_table("ft_features", symbols="AAA", feature_names=["ma_100"])
    assert set(stored["feature_name"].to_pylist()) == {"ma_100"}
    assert set(stored["symbol"].to_pylist()) == {"AAA"}
    stored = stored.sort_by("timestamp")
    fetched = wh.fetch("AAA", "2024-01-03", "2024-01-04", {"ma_100": FEATURES["ma_100"]}).table
    assert stored.num_rows == fetched.num_rows
    assert stored["timestamp"].cast(pa.int64()).to_pylist() == fetched["event_time"].cast(pa.int64()).to_pylist()
    sv = stored["feature_value_numeric"].to_numpy(zero_copy_only=False)
    fv = fetched["ma_100"].to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(sv, fv)
    assert {t.name for t in wh.list_tables()} >= {"cdm_trade_enriched", "ft_features"}


def test_errors(wh, trades):
    with pytest.raises(fdag.NotFound) as ei:
        wh.fetch("AAA", "2024-01-02", "2024-01-03", FEATURES, source="no_such_table")
    assert "no_such_table" in str(ei.value)
    with pytest.raises(fdag.InvalidRequest) as ei:
        wh.fetch("AAA", "2024-01-03", "2024-01-02", FEATURES)
    assert "not after" in str(ei.value)
    with pytest.raises(fdag.NotFound):
        wh.read_table("nope")
    with pytest.raises(fdag.InvalidRequest) as ei:
        wh.read_table("cdm_trade_enriched", columns=["nope_col"])
    assert "nope_col" in str(ei.value)
    # A bad ingest commits nothing.
    before = {t.name: t.total_records for t in wh.list_tables()}["cdm_trade_enriched"]
    with pytest.raises(fdag.InvalidRequest):
        wh.ingest(trades.drop_columns(["symbol"]))
    after = {t.name: t.total_records for t in wh.list_tables()}["cdm_trade_enriched"]
    assert before == after
