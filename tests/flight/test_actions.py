"""DoAction: health, list_features, validate, explain."""

from __future__ import annotations

import pytest

import fdag
from reference import make_trades


def test_health(client):
    h = client.health()
    assert h["status"] == "ok"


def test_list_actions(client):
    names = {n for n, _ in client.list_actions()}
    assert {"health", "list_features", "validate", "explain"} <= names


def test_list_features(client):
    cat = client.list_features()
    fn_names = {f["name"] for f in cat.functions}
    assert {"log", "exp", "abs", "sqrt", "lag", "diff", "rolling_mean", "rolling_std", "rolling_sum",
            "rolling_min", "rolling_max", "rolling_corr", "decay_accum", "ewm_mean"} <= fn_names
    for f in cat.functions:
        assert f.get("signature") and f.get("doc"), f
    lr = cat.feature_type("log_return")
    assert "lag" in lr["formula"] and "price" in lr["inputs"]
    assert "rolling_mean" in repr(cat)


def test_validate(client):
    trades = make_trades(rows_per_symbol=10)
    v = client.validate({"ok": "rolling_mean(close, 5)", "bad": "rolling_mean(close)"}, columns=trades)
    assert not v.ok and not v
    assert list(v.errors) == ["bad"] and "rolling_mean" in v.errors["bad"]
    assert [s.name for s in v.statuses] == ["ok", "bad"]
    assert "1 of 2 features ok" in repr(v)
    assert client.validate(["a=log(close)"]).ok


def test_validate_unknown_column(client):
    v = client.validate({"v": "log(nope_col)"}, columns={"event_time": "timestamp",
                                                         "symbol": "string", "trade_price": "float64"})
    assert not v.ok and "nope_col" in v.errors["v"]


def test_explain(client):
    e = client.explain({"r": "log(close) - log(lag(close, 1))", "v": "rolling_std(r, 20)",
                        "m": "rolling_mean(log(close), 5)"})
    assert e.text and "rolling_std" in e.text
    assert "digraph" in e.dot
    assert repr(e) == e.text
