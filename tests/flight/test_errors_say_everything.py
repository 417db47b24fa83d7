"""Issue 10 items 5-7 through the Python client and the real server: every
error names what and where in the user's terms (their row, ISO times, the
missing FeatureType inputs, the column they mistyped), with the right class."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import fdag


def _trades(times_s, symbols=None) -> pa.Table:
    n = len(times_s)
    return pa.table({
        "event_time": pa.array([int(t * 1000) for t in times_s], pa.timestamp("ms", tz="UTC")),
        "symbol": symbols or ["A"] * n,
        "trade_price": [100.0 + i for i in range(n)],
        "trade_size": [1.0] * n,
    })


def test_nat_in_the_time_column_names_the_users_row(client):
    df = pd.DataFrame({
        "event_time": pd.to_datetime(["2024-01-02 00:00:03", "2024-01-02 00:00:01", None, "2024-01-02 00:00:02"], utc=True),
        "symbol": ["A", "A", "A", "A"],
        "trade_price": [1.0, 2.0, 3.0, 4.0],
    }, index=["w", "x", "y", "z"])
    with pytest.raises(fdag.InvalidRequest) as e:
        client.compute(df, {"m": "rolling_mean(close, 2)"})
    assert str(e.value) == ("time column 'event_time' is null (NaT) at row 2 (index 'y'), counting from 0; "
                            "1 of 4 rows have no time, and every row needs one (drop them: df.dropna(subset=['event_time']))")
    # Unsorted, the server finds it itself: InvalidArgument at the row of the whole input.
    t = pa.Table.from_pandas(df, preserve_index=False)
    with pytest.raises(fdag.InvalidRequest, match=r'time column "event_time" is null at row 2 \(counting from 0'):
        client.exchange_raw({"features": [{"name": "m", "formula": "rolling_mean(close, 2)"}],
                             "time_column": "event_time", "symbol_column": "symbol"}, t, chunk_rows=2)


def test_out_of_order_batches_name_iso_times_and_the_row(client):
    t = _trades([5, 6, 7, 1.5])
    with pytest.raises(fdag.InvalidRequest) as e:
        client.compute(t, {"m": "rolling_mean(close, 2)"}, sort=False, chunk_rows=2)
    assert str(e.value) == (
        "rows of symbol A arrive out of time order: row 3 (counting from 0 over the whole input; in batch 2) "
        "at 1970-01-01T00:00:01.5Z is before 1970-01-01T00:00:06Z, seen in an earlier batch; "
        "send each symbol's rows in time order")


def test_feature_type_without_its_inputs_names_them(client):
    t = _trades([1, 2, 3]).drop_columns(["trade_size"])
    res = client.compute(t, [
        {"name": "ok", "formula": "log(close)"},
        {"name": "vw", "type": "vwap", "params": {"w": 2}},
    ])
    assert res.errors["vw"] == (
        'vw: feature type vwap needs inputs price, size, which the spec does not map and which are no column, '
        'alias or feature: give "inputs": {"price": COLUMN, "size": COLUMN}')
    # Not a position inside the type's formula, which the user never wrote.
    assert "1:" not in res.errors["vw"] and "^" not in res.errors["vw"]


def test_integer_time_says_how_to_convert(client):
    t = pa.table({"event_time": [1704164645000, 1704164646000], "trade_price": [1.0, 2.0]})
    with pytest.raises(fdag.InvalidRequest) as e:
        client.compute(t, {"m": "rolling_mean(close, '1s')"})
    assert 'pd.to_datetime(df["event_time"], unit="ms", utc=True)' in str(e.value)
    assert "--time-unit ms" in str(e.value)


def test_ingest_error_does_not_stutter(client):
    t = _trades([1, 2]).drop_columns(["symbol"])
    with pytest.raises(fdag.InvalidRequest) as e:
        client.ingest(t)
    msg = str(e.value)
    assert msg.count("cdm_trade_enriched") == 1 and msg.count("DoPut") <= 1, msg
    assert 'column "symbol" is missing' in msg


def test_explain_checks_identifiers_against_the_columns(client):
    t = _trades([1, 2, 3])
    want = ('unknown identifier "clsoe": not a feature of this request, an input column or an alias; '
            'did you mean "close"?')
    for columns in (t, t.schema, list(t.column_names), {"trade_price": "double", "event_time": "timestamp[ms, tz=UTC]"}):
        text = client.explain({"a": "rolling_mean(clsoe, 2)", "b": "log(close)"}, columns).text
        assert want in text and "| rolling_mean(clsoe, 2)" in text and "^" in text, (columns, text)
        assert "b = n" in text  # the good feature is explained
    # Without columns the name is taken as a column, as before.
    assert "n0 = clsoe" in client.explain({"a": "rolling_mean(clsoe, 2)"}).text


def test_ingest_names_the_columns_it_drops(start_server, tmp_path, fdag_bin):
    import subprocess
    import warnings

    import pyarrow.parquet as pq

    t = _trades([1, 2]).append_column("venue", pa.array(["binance"] * 2)).append_column(
        "side", pa.array(["buy"] * 2)).append_column("trade_id", pa.array([1, 2], pa.int64()))
    t = t.append_column("signed_size", pa.array([1.0, -1.0])).append_column("venue_code", pa.array([7, 7]))
    server = start_server("--project", str(tmp_path), name="dropped")
    with fdag.FeatureClient(server.location(), timeout=60) as c, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        res = c.ingest(t)
    assert res.rows == 2 and res.dropped_columns == ("signed_size", "venue_code")
    assert [str(w.message) for w in seen if issubclass(w.category, fdag.DroppedColumnsWarning)] == [
        "ingest into 'cdm_trade_enriched': columns signed_size, venue_code not stored: the table has no such column"]
    # The CLI says it per file.
    path = tmp_path / "more.parquet"
    pq.write_table(t.set_column(t.column_names.index("trade_id"), "trade_id", pa.array([3, 4], pa.int64())), path)
    proj = tmp_path / "cli"
    proj.mkdir()
    p = subprocess.run([fdag_bin, "ingest", "--project", str(proj), str(path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (f"fdag ingest: warning: {path}: columns signed_size, venue_code not stored: "
            "cdm_trade_enriched has no such column (--map TARGET=SOURCE renames one)") in p.stderr
