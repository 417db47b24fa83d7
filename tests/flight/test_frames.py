"""Frames in, frames out; feature sets as files; names that shadow (issue
10, items 2, 3 and the spec half of 4), through the real server."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import fdag

FEATS = {"ret_1": "log(close) - log(lag(close, 1))", "m3": "rolling_mean(close, 3)"}


def trades_frame() -> pd.DataFrame:
    t0 = pd.Timestamp("2024-01-02", tz="UTC")
    rows = []
    for k, sym in enumerate(["BBB", "AAA"]):
        for i in range(8):
            rows.append({"event_time": t0 + pd.Timedelta(seconds=i // 2), "symbol": sym,
                         "trade_price": 100.0 + 10 * k + i, "trade_size": 1.0 + i})
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=3)  # shuffled rows
    df.index = pd.Index([f"r{i}" for i in range(len(df))], name="row")
    return df


def plain(client, df: pd.DataFrame) -> pa.Table:
    """The reference: the same frame without index tricks or categories."""
    return client.compute(pa.Table.from_pandas(df.reset_index(drop=True).astype({"symbol": str}),
                                               preserve_index=False), FEATS).table


def test_pandas_index_kept(client):
    df = trades_frame()
    res = client.compute(df, FEATS)
    out = res.to_pandas()
    assert list(out.index) == list(df.index) and out.index.name == "row"
    np.testing.assert_array_equal(out["m3"].to_numpy(), plain(client, df)["m3"].to_numpy())


def test_keep_all_and_list(client):
    df = trades_frame()
    res = client.compute(df, FEATS, keep="all")
    assert res.table.column_names == ["event_time", "symbol", "trade_price", "trade_size", "ret_1", "m3"]
    assert res.table["trade_price"].to_pylist() == df["trade_price"].tolist()
    res = client.compute(df, FEATS, keep=["trade_size"])
    assert res.table.column_names == ["event_time", "symbol", "trade_size", "ret_1", "m3"]
    assert res.to_pandas()["trade_size"].tolist() == df["trade_size"].tolist()
    with pytest.raises(ValueError, match="no input column 'nope'"):
        client.compute(df, FEATS, keep=["nope"])


@pytest.mark.parametrize("kind", ["pandas_category", "polars_categorical", "polars_enum", "arrow_dictionary"])
def test_dictionary_symbol_with_default_sort(client, kind):
    df = trades_frame()
    want = plain(client, df)
    if kind == "pandas_category":
        data = df.astype({"symbol": "category"})
    elif kind == "polars_categorical":
        data = pl.from_pandas(df.reset_index(drop=True)).with_columns(pl.col("symbol").cast(pl.Categorical))
    elif kind == "polars_enum":
        data = pl.from_pandas(df.reset_index(drop=True)).with_columns(pl.col("symbol").cast(pl.Enum(["AAA", "BBB"])))
    else:
        t = pa.Table.from_pandas(df, preserve_index=False)
        data = t.set_column(1, "symbol", t["symbol"].dictionary_encode())
    got = client.compute(data, FEATS).table
    assert got["symbol"].to_pylist() == df["symbol"].tolist()
    np.testing.assert_array_equal(got["m3"].to_numpy(), want["m3"].to_numpy())


def test_datetime_index_is_the_time_axis(client):
    df = trades_frame().set_index("event_time")
    res = client.compute(df, FEATS)
    assert res.ok, res.errors
    assert res.to_pandas().index.equals(df.index)
    np.testing.assert_array_equal(res.table["m3"].to_numpy(), plain(client, df.reset_index())["m3"].to_numpy())
    # without a time column or a DatetimeIndex the error names the column
    with pytest.raises(fdag.InvalidRequest, match="event_time"):
        client.compute(df.reset_index(drop=True), FEATS)


def test_feature_set_files(client, tmp_path):
    pytest.importorskip("yaml")
    df = trades_frame()
    yml = tmp_path / "set.yaml"
    yml.write_text("name: demo\nfeatures:\n  - name: ret_1\n    formula: log(close) - log(lag(close, 1))\n"
                   "  - name: m3\n    formula: rolling_mean(close, 3)\n")
    js = tmp_path / "set.json"
    js.write_text(json.dumps({"features": [{"name": k, "formula": v} for k, v in FEATS.items()]}))
    specs = fdag.load_features(yml)
    assert [s["name"] for s in specs] == ["ret_1", "m3"]
    assert fdag.load_features(str(js)) == specs
    want = client.compute(df, FEATS).table
    for features in (yml, str(js), specs, {"name": "demo", "features": specs}):
        got = client.compute(df, features).table
        assert got.equals(want), features
    assert "m3" in client.explain(yml).text
    with pytest.raises(ValueError, match=r"set\.json.*features"):
        js.write_text(json.dumps({"name": "x"}))
        fdag.load_features(js)
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        fdag.load_features(tmp_path / "nope.yaml")


def test_duplicate_names_fail_both(client):
    res = client.compute(trades_frame(), [{"name": "a", "formula": "close"}, {"name": "a", "formula": "log(close)"},
                                          {"name": "b", "formula": "close * 2"}])
    assert set(res.errors) == {"a"}
    assert [s.status for s in res.statuses] == ["error", "error", "success"]
    assert "duplicate feature name (also feature #2)" in res.statuses[0].error
    assert "duplicate feature name (also feature #1)" in res.statuses[1].error


def test_feature_named_like_an_alias_is_not_silently_used(client):
    res = client.compute(trades_frame(), {"close": "log(trade_price)", "b": "close * 2"})
    assert res.statuses[0].ok
    assert "is both feature #1 of this request and the alias of column trade_price" in res.errors["b"]


def test_python_errors_carry_the_caret(client):
    df = trades_frame()
    res = client.compute(df, {"ok": "close", "bad": "log(close) - rolling_mean(close)"})
    assert res.errors["bad"].endswith(
        "1:14: rolling_mean expects 2 or 3 arguments, got 1\n | log(close) - rolling_mean(close)\n |              ^")
    with pytest.raises(fdag.InvalidRequest) as e:
        client.compute(df, {"x": "lgo(close)"})
    assert 'unknown function "lgo"; did you mean "log"?\n | lgo(close)\n | ^' in str(e.value)
    v = client.validate({"bad": "rolling_mean(close)"})
    assert "\n | rolling_mean(close)\n | ^" in v.errors["bad"]
