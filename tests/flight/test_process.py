"""The process stage over Flight against the real server: the ``bars`` and
``labels`` actions through FeatureClient.bars / .labels, features fetched over
a bar table (equal to computing over the same bars sent as a plain table),
and cdm_labels refused as a feature source by fetch and run_batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import fdag
from test_warehouse import SYMBOLS, make_trades

START, END = "2024-01-02", "2024-01-05"
BAR_FEATURES = {
    "ret_1": "log(close) - log(lag(close, 1))",
    "range": "(high - low) / open",
    "vwap_gap": "close / vwap - 1",
    "vsum_1h": "rolling_sum(volume, '1h')",
    "ma_20": "rolling_mean(close, 20)",
}


@pytest.fixture(scope="module")
def served(start_server, tmp_path_factory):
    project = tmp_path_factory.mktemp("process")
    server = start_server("--project", str(project), name="process")
    with fdag.FeatureClient(server.location(), timeout=300) as c:
        c.ingest(make_trades())
        s = c.bars(["time:1m", "tick:100"], SYMBOLS, START, END)
        assert [t["table"] for t in s["tables"]] == ["cdm_bars_time_1m", "cdm_bars_tick_100"], s
        yield c


def test_bars_action(served):
    trades = make_trades()
    for sym in SYMBOLS:
        bars = served.read_table("cdm_bars_time_1m", symbols=[sym])
        t = trades.filter(pc.equal(trades["symbol"], sym))
        us = t["event_time"].cast(pa.int64()).to_numpy()
        minute = us // 60_000_000
        # independent reference: numpy group by minute (trades are in time order)
        keys, first = np.unique(minute, return_index=True)
        last = np.r_[first[1:], len(minute)] - 1
        price = t["trade_price"].to_numpy()
        assert bars.num_rows == len(keys)
        assert bars["trade_count"].to_pylist() == list(np.diff(np.r_[first, len(minute)]))
        np.testing.assert_array_equal(bars["close"].to_numpy(), price[last])
        np.testing.assert_array_equal(bars["open"].to_numpy(), price[first])
        np.testing.assert_array_equal(bars["bar_end"].cast(pa.int64()).to_numpy(), us[last])
    tick = served.read_table("cdm_bars_tick_100", symbols=["AAA"])
    aaa = trades.filter(pc.equal(trades["symbol"], "AAA"))["event_time"].cast(pa.int64()).to_numpy()
    days = len(np.unique(aaa // 86_400_000_000))
    counts, complete = tick["trade_count"].to_pylist(), tick["complete"].to_pylist()
    assert {c for c, ok in zip(counts, complete) if ok} == {100}
    assert all(c < 100 for c, ok in zip(counts, complete) if not ok) and complete.count(False) == days  # cut at each day's end


def test_features_over_bars(served):
    """A fetch over cdm_bars_time_1m (time column bar_end, bar columns by
    name) equals DoExchange over the same bars sent as a plain table."""
    got = served.fetch(SYMBOLS, START, END, BAR_FEATURES, source="cdm_bars_time_1m", shard="12h",
                       on_empty="ignore")  # the trades end before END
    assert not got.errors, got.errors
    assert "bar_end" in got.table.column_names
    for sym in SYMBOLS:
        bars = served.read_table("cdm_bars_time_1m", symbols=[sym])
        want = served.compute(bars, BAR_FEATURES, time_column="bar_end").table
        mine = got.table.filter(pc.equal(got.table["symbol"], sym))
        assert mine.num_rows == bars.num_rows > 1000
        assert mine["bar_end"].equals(want["bar_end"])
        for name in BAR_FEATURES:
            np.testing.assert_allclose(mine[name].to_numpy(zero_copy_only=False), want[name].to_numpy(zero_copy_only=False),
                                       rtol=1e-12, equal_nan=True, err_msg=name)


def test_labels_action(served):
    specs = ["fixed_horizon:h=5:threshold=0.0005", "triple_barrier:pt=2:sl=1:vol=20:horizon=30m", "excess_median:bucket=5m"]
    s = served.labels(specs, SYMBOLS, START, END)
    assert s["events"] == make_trades().num_rows and s["shards"] == 6, s
    assert [p["spec"] for p in s["specs"]] == ["fixed_horizon:h=5:threshold=0.0005",
                                                "triple_barrier:pt=2:sl=1:vol=20:horizon=30m",
                                                "excess_median:bucket=5m:h=1"]
    trades = make_trades()
    for sym in SYMBOLS:
        t = trades.filter(pc.equal(trades["symbol"], sym))
        p = t["trade_price"].to_numpy()
        rows = served.read_table("cdm_labels", symbols=[sym], where={"label_spec": [specs[0]]})
        assert rows.num_rows == t.num_rows
        # plain reference: the return 5 trades ahead (the trades are dense,
        # so every label's future is within the day plus the lookahead)
        ret = np.full(len(p), np.nan)
        ret[:-5] = p[5:] / p[:-5] - 1
        lab = np.where(ret > 0.0005, 1.0, np.where(ret < -0.0005, -1.0, 0.0))
        lab[-5:] = np.nan
        np.testing.assert_array_equal(rows["ret"].to_numpy(zero_copy_only=False), ret)
        np.testing.assert_array_equal(rows["label"].to_numpy(zero_copy_only=False), lab)
        assert rows["trade_id"].equals(t["trade_id"])
        tb = served.read_table("cdm_labels", symbols=[sym], where={"method": ["triple_barrier"]})
        assert set(tb["barrier"].drop_null().to_pylist()) == {-1, 0, 1}
    # labels over a bar table's events
    s = served.labels("trend_scan:window=10", SYMBOLS, START, END, source="cdm_bars_time_1m")
    assert s["specs"][0]["labeled"] > 0.9 * s["events"] > 0
    rows = served.read_table("cdm_labels", where={"source": ["cdm_bars_time_1m"]})
    assert rows.num_rows == s["events"] and rows["t_value"].null_count < rows.num_rows


def test_labels_are_no_feature_source(served):
    served.labels("fixed_horizon", SYMBOLS, START, END)
    with pytest.raises(fdag.InvalidRequest, match="labels look forward"):
        served.fetch(SYMBOLS, START, END, {"x": "log(ret)"}, source="cdm_labels")
    with pytest.raises(fdag.InvalidRequest, match="labels look forward"):
        served.run_batch(SYMBOLS, START, END, {"x": "log(ret)"}, source="cdm_labels")


def test_process_action_errors(served):
    with pytest.raises(fdag.InvalidRequest, match="not a UTC midnight"):
        served.bars("tick:5", SYMBOLS, "2024-01-02T06:00:00Z", END)
    with pytest.raises(fdag.InvalidRequest, match="unknown kind"):
        served.bars("tik:5", SYMBOLS, START, END)
    with pytest.raises(fdag.InvalidRequest, match='unknown method "fixed"'):
        served.labels("fixed:h=2", SYMBOLS, START, END)
    with pytest.raises(fdag.InvalidRequest, match="more than the lookahead"):
        served.labels("triple_barrier:horizon=2d", SYMBOLS, START, END)
    with pytest.raises(fdag.NotFound, match="cdm_bars_time_5m"):
        served.labels("fixed_horizon", SYMBOLS, START, END, source="cdm_bars_time_5m")
    with pytest.warns(fdag.FdagWarning, match="no trades"):
        served.bars("tick:5", ["NOPE"], START, END)
