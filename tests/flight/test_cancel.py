"""Cancellation: clients that stop mid-stream must not hurt the server."""

from __future__ import annotations

import _thread
import json
import threading
import time

import pyarrow as pa
import pyarrow.flight as flight
import pytest

import fdag
from reference import make_trades

SPECS = {"m": "rolling_mean(close, 50)", "s": "rolling_std(close, '1m')", "e": "ewm_mean(close, 20)"}


@pytest.fixture(scope="module")
def big() -> pa.Table:
    return make_trades(rows_per_symbol=60_000, seed=5, symbols=("A", "B"), null_size_fraction=0)


def assert_server_fine(server, client):
    assert server.alive(), server.log_tail()
    assert client.health()["status"] == "ok"
    small = make_trades(rows_per_symbol=30)
    assert client.compute(small, SPECS).ok


def test_raw_client_abandons_stream(server, client, big):
    """A client writes part of its input, then cancels without done_writing."""
    c = flight.FlightClient(server.location())
    cmd = json.dumps({"features": [{"name": k, "formula": v} for k, v in SPECS.items()]}).encode()
    writer, reader = c.do_exchange(flight.FlightDescriptor.for_command(cmd))
    writer.begin(big.schema)
    for b in big.to_batches(max_chunksize=1000)[:5]:
        writer.write_batch(b)
    reader.cancel()
    try:
        writer.close()
    except Exception:
        pass
    c.close()
    assert_server_fine(server, client)


def test_raw_client_disconnects(server, client, big):
    """A client that drops the connection mid-stream (closes the FlightClient)."""
    c = flight.FlightClient(server.location())
    cmd = json.dumps({"features": [{"name": "m", "formula": "rolling_mean(close, 5)"}]}).encode()
    writer, reader = c.do_exchange(flight.FlightDescriptor.for_command(cmd))
    writer.begin(big.schema)
    for b in big.to_batches(max_chunksize=1000)[:3]:
        writer.write_batch(b)
    c.close()
    time.sleep(0.2)
    assert_server_fine(server, client)


def test_failing_source_cancels_call(server, client, big):
    """The caller's own data source fails mid-stream: its error surfaces, the call is cancelled."""
    batches = big.to_batches(max_chunksize=2000)

    def gen():
        yield from batches[:4]
        raise RuntimeError("source broke at batch 5")

    reader = pa.RecordBatchReader.from_batches(big.schema, gen())
    with pytest.raises(Exception, match="source broke at batch 5"):
        client.compute(reader, SPECS, sort=False)
    assert_server_fine(server, client)


def test_deadline(server, client, big):
    """A call past its deadline fails with Timeout (the source is slower than the deadline)."""
    batches = big.to_batches(max_chunksize=1000)

    def slow():
        for b in batches:
            time.sleep(0.05)
            yield b

    reader = pa.RecordBatchReader.from_batches(big.schema, slow())
    t0 = time.monotonic()
    with pytest.raises((fdag.Timeout, fdag.Cancelled)):
        client.compute(reader, SPECS, sort=False, timeout=0.5)
    assert time.monotonic() - t0 < 30
    assert_server_fine(server, client)


def test_keyboard_interrupt_cancels(server, client, big):
    """Ctrl-C in a notebook: KeyboardInterrupt on the caller's thread cancels the call."""
    batches = big.to_batches(max_chunksize=1000)

    def slow():
        for b in batches:
            time.sleep(0.02)
            yield b

    reader = pa.RecordBatchReader.from_batches(big.schema, slow())
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.compute(reader, SPECS, sort=False)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 30
    assert_server_fine(server, client)
