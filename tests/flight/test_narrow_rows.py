"""Tie-safe narrow rows on real trades (issue 10, item 1).

Real Binance futures trades (Tardis sample: 59.5% of the rows share an
exchange timestamp, up to 61 at one millisecond) are ingested over DoPut,
``fdag run`` writes ft_features, and:

- the pivot a researcher writes on (symbol, timestamp) fails with
  "Index contains duplicate entries", while (symbol, timestamp, seq) is a key;
- ``read_features`` returns the wide table, aligned with the trades row for
  row (seq in trade-id order, trade_id carried) and in time order, equal to
  ``compute`` over the same trades;
- reads come back in time order;
- empty reads and fetches warn, naming the symbol and table, or raise.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

import fdag

REPO = Path(__file__).resolve().parents[2]
TARDIS = Path("/work/shared/data/real/binance_futures_btcusdt_tardis/tardis_trades.csv")
FEATURES = {
    "px": "close",
    "ret_1": "log(close) - log(lag(close, 1))",
    "mean_20": "rolling_mean(close, 20)",
}
START, END = "2020-02-22T00:00:00Z", "2020-02-22T03:00:00Z"


def tardis_trades() -> pa.Table:
    """The Tardis CSV in cdm_trade_enriched's layout (exchange time in us)."""
    if not TARDIS.exists():
        pytest.skip(f"real sample absent: {TARDIS}")
    raw = pacsv.read_csv(TARDIS, convert_options=pacsv.ConvertOptions(
        column_types={"timestamp": pa.int64(), "id": pa.int64(), "price": pa.float64(), "amount": pa.float64()}))
    return pa.table({
        "symbol": raw["symbol"],
        "venue": pa.array(["binance-futures"] * raw.num_rows),
        "event_time": pc.cast(raw["timestamp"], pa.timestamp("us", tz="UTC")),
        "trade_price": raw["price"],
        "trade_size": raw["amount"],
        "side": raw["side"],
        "trade_id": raw["id"],
    })



@pytest.fixture(scope="module")
def trades() -> pa.Table:
    return tardis_trades()


@pytest.fixture(scope="module")
def wh(start_server, tmp_path_factory, trades, fdag_bin):
    project = tmp_path_factory.mktemp("narrow_project")
    server = start_server("--project", str(project), name="narrow")
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        assert c.ingest(trades).rows == trades.num_rows
        args = [fdag_bin, "run", "--project", str(project), "--symbols", "BTCUSDT",
                "--start", START, "--end", END, "--shard", "1h"]
        for name, formula in FEATURES.items():
            args += ["--feature", f"{name}={formula}"]
        res = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        yield c


def test_real_trades_have_ties(trades):
    ts = trades["event_time"]
    assert trades.num_rows - len(pc.unique(ts)) > 3000  # many tied timestamps: the case at hand


def test_pivot_on_timestamp_fails_on_seq_works(wh, trades):
    pd = pytest.importorskip("pandas")
    narrow = wh.read_table("ft_features", symbols="BTCUSDT").to_pandas()
    with pytest.raises(ValueError, match="duplicate entries"):
        narrow.pivot(index=["symbol", "timestamp"], columns="feature_name", values="feature_value_numeric")
    wide = narrow.pivot(index=["symbol", "timestamp", "seq"], columns="feature_name", values="feature_value_numeric")
    assert len(wide) == trades.num_rows
    assert isinstance(wide, pd.DataFrame)


def test_read_features_is_the_wide_table_aligned_with_the_trades(wh, trades):
    wide = wh.read_features("BTCUSDT", START, END, list(FEATURES))
    assert wide.column_names == ["event_time", "symbol", "seq", "trade_id", *FEATURES]
    assert wide.num_rows == trades.num_rows
    # aligned row for row: the source is already in (time, trade id) order
    assert wide["trade_id"].to_pylist() == trades["trade_id"].to_pylist()
    assert wide["event_time"].equals(trades["event_time"])
    assert wide["px"].to_pylist() == trades["trade_price"].to_pylist()
    # seq counts the trades of one timestamp 0, 1, ... in trade-id order
    t = trades["event_time"].cast(pa.int64()).to_numpy()
    want_seq = np.zeros(len(t), dtype=np.int64)
    for i in range(1, len(t)):
        want_seq[i] = want_seq[i - 1] + 1 if t[i] == t[i - 1] else 0
    assert wide["seq"].to_numpy().tolist() == want_seq.tolist()
    # and the values are those compute gives over the same trades (the
    # first shard has no warmup: the sample starts at 00:00:02)
    computed = wh.compute(trades, FEATURES).table
    for name in FEATURES:
        np.testing.assert_allclose(wide[name].to_numpy(zero_copy_only=False),
                                   computed[name].to_numpy(zero_copy_only=False),
                                   rtol=1e-12, equal_nan=True, err_msg=name)


def test_read_features_order_and_subset(wh):
    wide = wh.read_features("BTCUSDT", "2020-02-22T01:00:00Z", "2020-02-22T01:30:00Z", ["mean_20", "px"])
    assert wide.column_names == ["event_time", "symbol", "seq", "trade_id", "mean_20", "px"]
    keys = list(zip(wide["event_time"].cast(pa.int64()).to_pylist(), wide["seq"].to_pylist()))
    assert keys == sorted(keys) and len(set(keys)) == len(keys) > 100


def test_reads_in_time_order(wh):
    narrow = wh.read_table("ft_features", symbols="BTCUSDT", feature_names=["px", "ret_1"])
    ts = narrow["timestamp"].cast(pa.int64()).to_numpy()
    assert (np.diff(ts) >= 0).all(), "ft_features rows are not in time order"
    # the two features of one source row are next to each other
    assert narrow["feature_name"][:2].to_pylist() == ["px", "ret_1"]


def test_empty_reads_warn_or_raise(wh):
    with pytest.warns(fdag.EmptyResultWarning, match=r"ft_features: no rows for symbol ETHUSDT"):
        wh.read_table("ft_features", symbols=["BTCUSDT", "ETHUSDT"], feature_names=["px"])
    with pytest.warns(fdag.EmptyResultWarning, match=r"ft_features: no rows for feature nope"):
        wh.read_features("BTCUSDT", START, END, ["px", "nope"])
    with pytest.warns(fdag.EmptyResultWarning, match=r"ft_features: no rows match .*2021"):
        wh.read_table("ft_features", start="2021-01-01", end="2021-01-02")
    with pytest.raises(fdag.EmptyResult, match="ETHUSDT"):
        wh.read_features("ETHUSDT", START, END, ["px"], on_empty="error")
    with pytest.warns(fdag.EmptyResultWarning, match=r"cdm_trade_enriched: no source rows for symbol XRPUSDT in \[2020-02-22"):
        wh.fetch(["BTCUSDT", "XRPUSDT"], START, "2020-02-22T00:10:00Z", {"px": "close"})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wh.read_table("ft_features", symbols="ETHUSDT", on_empty="ignore")
    with pytest.raises(ValueError, match="on_empty"):
        wh.read_table("ft_features", on_empty="loud")
