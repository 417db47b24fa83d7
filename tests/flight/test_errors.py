"""Errors: per-feature statuses, whole-request errors carrying the server's message."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.flight as flight
import pytest

import fdag
from reference import make_trades


@pytest.fixture(scope="module")
def trades() -> pa.Table:
    return make_trades(rows_per_symbol=200)


def assert_clean(err: BaseException) -> str:
    msg = str(err)
    assert msg, "empty error message"
    for noise in ("gRPC returned", "Flight returned", "gRPC client debug context", "Client context:", "Detail:"):
        assert noise not in msg, msg
    return msg


def test_bad_feature_reported_others_succeed(client, trades):
    result = client.compute(trades, [
        {"name": "good", "formula": "rolling_mean(close, 5)"},
        {"name": "unknown_fn", "formula": "rolling_mode(close, 5)"},
        {"name": "arity", "formula": "rolling_mean(close)"},
        {"name": "no_column", "formula": "log(no_such_column)"},
        {"name": "also_good", "formula": "lag(close, 2)"},
    ])
    assert not result.ok
    assert result.table.column_names == ["event_time", "symbol", "good", "also_good"]
    assert set(result.errors) == {"unknown_fn", "arity", "no_column"}
    assert "rolling_mode" in result.errors["unknown_fn"]
    assert "rolling_mean" in result.errors["arity"] and "1:" in result.errors["arity"]
    assert "no_such_column" in result.errors["no_column"]
    statuses = {s.name: s for s in result.statuses}
    assert statuses["good"].ok and statuses["good"].error == ""
    assert [s.name for s in result.statuses] == ["good", "unknown_fn", "arity", "no_column", "also_good"]
    text = repr(result)
    assert "2 features ok, 3 failed" in text and "FAILED arity" in text
    assert "arity" in result._repr_html_()
    with pytest.raises(fdag.InvalidRequest, match="3 of 5 features failed"):
        result.raise_for_errors()


def test_all_bad_is_invalid_request(client, trades):
    with pytest.raises(fdag.InvalidRequest) as ei:
        client.compute(trades, {"broken": "rolling_mean(close", "cyc_a": "cyc_b + 1", "cyc_b": "cyc_a + 1"})
    msg = assert_clean(ei.value)
    assert "broken" in msg, msg
    assert isinstance(ei.value, ValueError)
    assert ei.value.original is not None


def test_error_position_in_explain_and_compute(client, trades):
    """Errors name the feature, the position and what was expected."""
    e = client.explain({"ret_5": "rolling_mean(close)", "ok": "log(close)"})
    assert "ret_5: 1:1: rolling_mean expects 2 or 3 arguments, got 1" in e.text, e.text
    with pytest.raises(fdag.InvalidRequest) as ei:
        client.compute(trades, {"ret_5": "log(close) + rolling_mean(close)"})
    msg = assert_clean(ei.value)
    assert "ret_5: 1:14: rolling_mean expects 2 or 3 arguments, got 1" in msg, msg


def test_missing_time_column(client, trades):
    with pytest.raises(fdag.InvalidRequest) as ei:
        client.compute(trades.drop_columns(["event_time"]), {"m": "rolling_mean(close, 3)"})
    assert "event_time" in assert_clean(ei.value)


def test_wrong_time_column_name(client, trades):
    with pytest.raises(fdag.InvalidRequest) as ei:
        client.compute(trades, {"m": "rolling_mean(close, 3)"}, time_column="ts")
    assert "ts" in assert_clean(ei.value)


def test_missing_source_column_fails_only_that_feature(client, trades):
    result = client.compute(trades.drop_columns(["trade_size"]),
                            {"p": "rolling_mean(close, 3)", "v": "rolling_sum(volume, 3)"})
    assert result.features == ["p"]
    assert "trade_size" in result.errors["v"] or "volume" in result.errors["v"], result.errors


@pytest.mark.parametrize("command", [
    b"this is not json",
    b'{"features": "not a list"}',
    b'{"features": []}',
    b'{"features": [{"formula": "log(close)"}]}',
])
def test_malformed_request(client, trades, command):
    with pytest.raises(fdag.InvalidRequest) as ei:
        client.exchange_raw(command, trades)
    assert_clean(ei.value)


def test_unknown_action(client):
    with pytest.raises(fdag.FdagError) as ei:
        client._action("no_such_action", {})
    assert isinstance(ei.value, (fdag.Unsupported, fdag.InvalidRequest, fdag.NotFound)), repr(ei.value)
    assert "no_such_action" in assert_clean(ei.value)


def test_raw_pyarrow_error_is_grpc_invalid_argument(server, trades):
    """The server answers bad specs with INVALID_ARGUMENT (pyarrow: ArrowInvalid),
    which the client maps to InvalidRequest."""
    c = flight.FlightClient(server.location())
    cmd = json.dumps({"features": [{"name": "x", "formula": "nope("}]}).encode()
    writer, reader = c.do_exchange(flight.FlightDescriptor.for_command(cmd))
    with pytest.raises(pa.ArrowInvalid) as ei:
        writer.begin(trades.schema)
        writer.write_table(trades)
        writer.done_writing()
        reader.read_all()
    assert isinstance(fdag.errors.from_flight_error(ei.value), fdag.InvalidRequest)
    c.close()


def test_unreachable_server():
    c = fdag.FeatureClient("grpc://127.0.0.1:9", timeout=10)  # discard port: nothing listens
    with pytest.raises(fdag.ServerUnavailable) as ei:
        c.health()
    assert isinstance(ei.value, ConnectionError)
