"""An empty fetch is said in-band (issue 11 item 3): the server puts a
notice in the app_metadata of the DoGet stream, any Flight client can read
it, and the Python client turns it into one EmptyResultWarning per symbol
naming the symbol and the table (EmptyResult with on_empty="error")."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import fdag

T0 = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
FEATURES = {"r": "log(close) - log(lag(close, 1))"}


@pytest.fixture(scope="module")
def wh(start_server, tmp_path_factory):
    server = start_server("--project", str(tmp_path_factory.mktemp("notices")), name="notices")
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        n = 2000  # one trade a minute from T0: 2024-01-02 and part of 2024-01-03
        t = np.datetime64(T0.replace(tzinfo=None), "us") + (np.arange(n) * 60_000_000).astype("timedelta64[us]")
        c.ingest(pa.table({
            "symbol": ["AAA"] * n,
            "event_time": pa.array(t, pa.timestamp("us", tz="UTC")),
            "trade_price": 100 + np.arange(n) / 1000,
            "trade_size": np.ones(n),
            "trade_id": np.arange(n, dtype=np.int64),
        }))
        yield c, server


def test_unknown_symbol_is_one_warning_naming_symbol_and_table(wh):
    c, _ = wh
    with pytest.warns(fdag.EmptyResultWarning) as rec:
        res = c.fetch("NOPE", "2024-01-02", "2024-01-05", FEATURES)  # 3 endpoints, all empty
    msgs = [str(w.message) for w in rec if issubclass(w.category, fdag.EmptyResultWarning)]
    assert msgs == ["cdm_trade_enriched: no source rows for symbol NOPE in [2024-01-02, 2024-01-05)"], msgs
    assert res.table.num_rows == 0
    with pytest.raises(fdag.EmptyResult, match="symbol NOPE"):
        c.fetch("NOPE", "2024-01-02", "2024-01-05", FEATURES, on_empty="error")


def test_range_partly_without_data(wh):
    c, _ = wh
    # trades from 2024-01-02 00:00 to 2024-01-03 09:19: the shards of the 4th and 5th are empty
    with pytest.warns(fdag.EmptyResultWarning) as rec:
        res = c.fetch("AAA", "2024-01-02", "2024-01-06", FEATURES)
    msgs = [str(w.message) for w in rec if issubclass(w.category, fdag.EmptyResultWarning)]
    assert msgs == ["cdm_trade_enriched: no source rows for symbol AAA in "
                    "[2024-01-04T00:00:00Z, 2024-01-06T00:00:00Z) (2 of the fetch's shards)"], msgs
    assert res.table.num_rows == 2000


def test_data_is_silent(wh):
    c, _ = wh
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = c.fetch("AAA", "2024-01-02", "2024-01-03", FEATURES)
    assert res.table.num_rows == 1440


def test_any_flight_client_reads_the_notice(wh):
    _, server = wh
    client = flight.connect(server.location())
    ticket = json.dumps({"features": [{"name": "r", "formula": "log(close)"}], "symbols": ["NOPE"],
                         "start": "2024-01-02T00:00:00Z", "end": "2024-01-03T00:00:00Z"}).encode()
    reader = client.do_get(flight.Ticket(ticket))
    found = []
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            break
        if chunk.app_metadata is not None:
            found += json.loads(chunk.app_metadata.to_pybytes())["fdag.notices"]
    assert [(n["kind"], n["table"], n["symbols"]) for n in found] == [("empty", "cdm_trade_enriched", ["NOPE"])]
    assert "no source rows for symbol NOPE" in found[0]["message"]
    client.close()
