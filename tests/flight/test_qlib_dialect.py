"""The Qlib dialect through the Python client over Flight (DoExchange):
selected by $fields or by "dialect": "qlib", its errors with a caret.
Values against Qlib itself are tests/qlib's job; here, against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def bars() -> pa.Table:
    rng = np.random.default_rng(3)
    n = 40
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pa.table({
        "event_time": pa.array(pd.date_range("2024-01-01", periods=n, freq="D").astype("datetime64[us]")),
        "symbol": ["A"] * 20 + ["B"] * 20,
        "close": close,
        "volume": rng.lognormal(10, 0.3, n),
    })


def test_qlib_formulas_over_flight(client):
    data = bars()
    res = client.compute(data, [
        {"name": "ma5", "formula": "Mean($close, 5) / $close"},
        {"name": "roc1", "formula": "Ref($close, 1) / $close", "dialect": "qlib"},
        {"name": "cntp", "formula": "Mean($close > Ref($close, 1), 5)"},
        {"name": "ahead", "formula": "Ref($close, -1)"},
    ])
    assert set(res.errors) == {"ahead"}
    assert "Ref: N = -1 reads 1 rows ahead" in res.errors["ahead"]
    assert " | Ref($close, -1)\n |             ^" in res.errors["ahead"]
    df = data.to_pandas()
    g = df.groupby("symbol")["close"]
    ma5 = g.transform(lambda s: s.rolling(5, min_periods=1).mean()) / df["close"]
    roc1 = g.shift(1) / df["close"]
    up = (df["close"] > g.shift(1)).astype(float)  # NaN compares false, as in Qlib
    cntp = up.groupby(df["symbol"]).transform(lambda s: s.rolling(5, min_periods=1).mean())
    out = res.table.to_pandas()
    np.testing.assert_allclose(out["ma5"], ma5, rtol=1e-12)
    np.testing.assert_allclose(out["roc1"], roc1, rtol=1e-12)  # NaN where Ref has no row
    np.testing.assert_allclose(out["cntp"], cntp, rtol=1e-12)
