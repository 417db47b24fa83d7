"""Unit tests of the client's pure parts: spec normalisation, error
messages, an unreachable server. Everything that talks to a server is in
tests/flight/, against the real fdag-flight binary."""

from __future__ import annotations

import pytest

import fdag


def test_unavailable():
    c = fdag.FeatureClient("grpc://127.0.0.1:1", timeout=5)
    with pytest.raises(fdag.ServerUnavailable):
        c.health()


def test_specs():
    assert fdag.normalize_features("a = x == 1") == [{"name": "a", "formula": "x == 1"}]
    assert fdag.normalize_features({"r": {"type": "log_return", "params": {"k": 5}}}) == [
        {"type": "log_return", "params": {"k": 5}, "name": "r"}]
    with pytest.raises(ValueError):
        fdag.normalize_features(["x == 1"])


def test_clean_message():
    m = ("gRPC returned invalid argument error, with message: ret_5: 1:14: rolling_mean expects 2 or 3 "
         "arguments, got 1. gRPC client debug context: UNKNOWN:Error received from peer. "
         "Client context: IOError: Server never sent a data message. Detail: Internal")
    assert fdag.errors.clean_message(m) == "ret_5: 1:14: rolling_mean expects 2 or 3 arguments, got 1"


def test_http_location_is_refused_with_the_grpc_address():
    with pytest.raises(fdag.FdagError, match=r"use grpc://127\.0\.0\.1:8815"):
        fdag.FeatureClient("http://127.0.0.1:8815")
    with pytest.raises(fdag.FdagError, match=r"use grpc\+tls://h:1"):
        fdag.FeatureClient("https://h:1")


def test_feature_set_dict_and_file(tmp_path):
    specs = [{"name": "a", "formula": "close"}]
    assert fdag.normalize_features({"name": "set", "features": specs}) == specs
    p = tmp_path / "s.json"
    p.write_text('{"features": [{"name": "a", "formula": "close"}]}')
    assert fdag.normalize_features(str(p)) == specs


def test_one_row_is_singular():
    """'1 rows' (issue 10 item 5): counts in reprs take the singular for one."""
    import pyarrow as pa

    one = fdag.ComputeResult(table=pa.table({"a": [1.0]}), statuses=[fdag.FeatureStatus("a", "success")])
    assert repr(one).startswith("ComputeResult: 1 row, 1 feature ok")
    assert repr(fdag.TableInfo("t", pa.schema([("a", pa.int64())]), 1)) == "TableInfo('t', 1 column, 1 row)"
    assert repr(fdag.TableInfo("t", pa.schema([("a", pa.int64()), ("b", pa.int64())]), 2048)) == "TableInfo('t', 2 columns, 2,048 rows)"
