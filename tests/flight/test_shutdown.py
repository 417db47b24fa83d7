"""SIGTERM/SIGINT on the real binary: in-flight exchanges drain within
--drain-timeout, then the process exits; a client that stalls past the
deadline is cancelled and the process still exits."""

from __future__ import annotations

import json
import signal
import threading
import time

import pyarrow as pa
import pyarrow.flight as flight
import pytest

import fdag
from reference import make_trades

SPECS = {"m": "rolling_mean(close, 50)", "s": "rolling_std(close, '1m')"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_drains_in_flight_exchange(start_server, sig):
    server = start_server("--drain-timeout", "30s", name=f"drain-{sig.name}")
    data = make_trades(rows_per_symbol=4_000, seed=3, symbols=("A", "B"))
    slow_started = threading.Event()

    def slow_batches():
        # Small batches with pauses: the exchange is still running when
        # the signal arrives.
        for i, b in enumerate(data.to_batches(max_chunksize=500)):
            if i == 2:
                slow_started.set()
            time.sleep(0.05)
            yield b

    out = {}

    def run():
        with fdag.FeatureClient(server.location(), timeout=60) as c:
            try:
                reader = pa.RecordBatchReader.from_batches(data.schema, slow_batches())
                out["result"] = c.compute(reader, SPECS, sort=False)
            except Exception as e:  # noqa: BLE001 - asserted below
                out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    assert slow_started.wait(30)
    server.proc.send_signal(sig)
    t.join(60)
    assert "error" not in out, out.get("error")
    assert out["result"].ok and out["result"].table.num_rows == data.num_rows
    assert server.proc.wait(30) == 0, server.log_tail()
    assert "shutting down" in server.log_tail()


def test_drain_deadline_cancels_stalled_client(start_server):
    server = start_server("--drain-timeout", "1s", name="deadline")
    c = flight.FlightClient(server.location())
    cmd = json.dumps({"features": [{"name": "m", "formula": "rolling_mean(close, 5)"}]}).encode()
    writer, reader = c.do_exchange(flight.FlightDescriptor.for_command(cmd))
    data = make_trades(rows_per_symbol=100)
    writer.begin(data.schema)
    writer.write_batch(data.to_batches()[0])  # then stall: never done_writing
    time.sleep(0.3)
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(20)
    took = time.monotonic() - t0
    assert code == 0, server.log_tail()
    assert 0.8 <= took < 10, f"exited after {took:.2f}s with a 1s drain deadline"
    assert "drain deadline passed" in server.log_tail()
    try:
        writer.close()
    except Exception:
        pass
    c.close()
