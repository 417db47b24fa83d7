"""DoExchange end to end: values against Polars, batching, input kinds, order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import fdag
from reference import FEATURES, compare, make_trades, reference

SPECS = [f.spec for f in FEATURES]


@pytest.fixture(scope="module")
def trades() -> pa.Table:
    return make_trades()


@pytest.fixture(scope="module")
def expected(trades):
    return reference(trades)


def check_against_reference(result: fdag.ComputeResult, data: pa.Table, expected) -> None:
    assert result.ok, result.errors
    assert result.table.num_rows == data.num_rows
    names = [f.name for f in FEATURES]
    assert result.table.column_names == ["event_time", "symbol", *names]
    assert result.table["symbol"].to_pylist() == data["symbol"].to_pylist()
    assert result.table["event_time"].cast(pa.int64()).equals(data["event_time"].cast(pa.int64()))
    for f in FEATURES:
        assert result.table.schema.field(f.name).type == pa.float64(), f.name
        compare(f.name, result.table[f.name].to_pylist(), expected[f.name], rtol=f.rtol, atol=f.atol,
                mask=expected["__last_of_time__"] if f.duration else None, context=data)


def test_values_match_polars(client, trades, expected):
    result = client.compute(trades, SPECS)
    check_against_reference(result, trades, expected)
    assert [s.name for s in result.statuses] == [f.name for f in FEATURES]
    assert result.rows_in in (None, trades.num_rows)
    assert result.rows_out in (None, trades.num_rows)
    md = result.table.schema.metadata or {}
    assert fdag.METADATA_KEY in md


def test_small_chunks_identical(client, trades):
    one = client.compute(trades, SPECS, chunk_rows=1_000_000)
    small = client.compute(trades, SPECS, chunk_rows=97)
    for name in [f.name for f in FEATURES]:
        a, b = one.table[name].to_numpy(), small.table[name].to_numpy()
        np.testing.assert_array_equal(a, b, err_msg=name)  # bitwise: NaN == NaN, null as NaN


def test_pandas_input(client, trades, expected):
    result = client.compute(trades.to_pandas(), SPECS, chunk_rows=500)
    check_against_reference(result, trades, expected)
    df = result.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == trades.num_rows


def test_polars_input(client, trades, expected):
    result = client.compute(pl.from_arrow(trades), SPECS, chunk_rows=300)
    check_against_reference(result, trades, expected)
    assert isinstance(result.to_polars(), pl.DataFrame)


def test_lazyframe_input(client, trades, expected):
    result = client.compute(pl.from_arrow(trades).lazy(), SPECS)
    check_against_reference(result, trades, expected)


@pytest.mark.parametrize("sort", [True, False])
def test_record_batch_reader_input(client, trades, expected, sort):
    reader = pa.RecordBatchReader.from_batches(trades.schema, trades.to_batches(max_chunksize=211))
    result = client.compute(reader, SPECS, sort=sort, chunk_rows=128)
    check_against_reference(result, trades, expected)


def test_unsorted_input_restored_to_input_order(client, trades):
    perm = np.random.default_rng(3).permutation(trades.num_rows)
    shuffled = trades.take(pa.array(perm))
    expected = reference(shuffled)  # stable (symbol, time) order of the shuffled rows
    result = client.compute(shuffled, SPECS, chunk_rows=100)
    check_against_reference(result, shuffled, expected)


def test_unsorted_without_sort_is_rejected(client, trades):
    perm = np.random.default_rng(4).permutation(trades.num_rows)
    shuffled = trades.take(pa.array(perm))
    with pytest.raises(fdag.InvalidRequest) as ei:
        client.compute(shuffled, SPECS[:2], chunk_rows=50, sort=False)
    msg = str(ei.value)
    assert "order" in msg and "gRPC" not in msg, msg


def test_feature_forms(client, trades):
    """dict name -> formula, 'name=formula' strings and registry types."""
    by_dict = client.compute(trades, {"r": "log(close) - log(lag(close, 5))"})
    by_str = client.compute(trades, ["r = log(close) - log(lag(close, 5))"])
    by_type = client.compute(trades, [{"name": "r", "type": "log_return", "inputs": {"price": "close"},
                                       "params": {"k": 5}}])
    a = by_dict.table["r"].to_numpy()
    np.testing.assert_array_equal(a, by_str.table["r"].to_numpy())
    np.testing.assert_allclose(a, by_type.table["r"].to_numpy(), rtol=1e-12, equal_nan=True)


def test_aliases(client, trades):
    renamed = trades.rename_columns(["event_time", "symbol", "px", "qty"])
    result = client.compute(renamed, {"m": "rolling_mean(close, 5)"}, aliases={"close": "px", "volume": "qty"})
    base = client.compute(trades, {"m": "rolling_mean(close, 5)"})
    np.testing.assert_array_equal(result.table["m"].to_numpy(), base.table["m"].to_numpy())


def test_no_symbol_column(client, trades):
    """Without a symbol column the whole input is one symbol."""
    one = trades.filter(pc.equal(trades["symbol"], "AAA")).drop_columns(["symbol"])
    result = client.compute(one, {"m": "rolling_mean(close, 3)"})
    assert result.table.column_names == ["event_time", "m"]
    exp = pl.from_arrow(one).select(pl.col("trade_price").rolling_mean(3))["trade_price"].to_list()
    compare("m", result.table["m"].to_pylist(), exp, rtol=1e-12, atol=0)


def test_large_streaming_input(client):
    """Enough data that gRPC flow control matters: writing and reading must overlap."""
    big = make_trades(rows_per_symbol=100_000, seed=11, symbols=("A", "B"), null_size_fraction=0)
    reader = pa.RecordBatchReader.from_batches(big.schema, big.to_batches(max_chunksize=4096))
    result = client.compute(reader, SPECS[:6], sort=False, chunk_rows=4096)
    assert result.ok and result.table.num_rows == big.num_rows
    assert result.table["event_time"].cast(pa.int64()).equals(big["event_time"].cast(pa.int64()))


def test_result_repr(client, trades):
    result = client.compute(trades, SPECS[:3])
    text = repr(result)
    assert f"{trades.num_rows:,} rows" in text and "3 features ok" in text
    assert "ComputeResult" in result._repr_html_()
    assert result.features == [s["name"] for s in SPECS[:3]]
    assert len(result) == trades.num_rows
    assert "FeatureClient(location='grpc://" in repr(client)


def test_echo_returns_the_input(client, trades):
    """The transport baseline of the benchmarks: {"echo": true} sends the
    batches back unchanged."""
    out, final = client.exchange_raw({"echo": True}, trades, chunk_rows=128)
    assert out.equals(trades)
    assert final["rows_in"] == final["rows_out"] == trades.num_rows
