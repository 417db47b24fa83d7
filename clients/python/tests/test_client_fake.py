"""Client tests against a small in-process Python Flight server that speaks
the fdag protocol (no Go needed). Each feature's value is the running sum of
``trade_price`` within its symbol, a stateful quantity that exposes any
mistake in chunking, ordering or order restoration. A formula containing
"bad" fails. The end-to-end suite against the real server is tests/flight/.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import pytest

import fdag


class FakeServer(flight.FlightServerBase):
    def __init__(self):
        super().__init__("grpc://127.0.0.1:0")
        self.calls = []

    def do_action(self, context, action):
        body = json.loads(action.body.to_pybytes() or b"{}")
        self.calls.append(action.type)
        if action.type == "health":
            return [json.dumps({"status": "ok"}).encode()]
        if action.type == "explain":
            if any("bad" in f.get("formula", "") for f in body["features"]):
                raise pa.ArrowInvalid("f: 1:1: unknown name bad")
            return [json.dumps({"text": "DAG", "dot": "digraph {}"}).encode()]
        if action.type == "validate":
            return [json.dumps({"features": [self._status(f) for f in body["features"]]}).encode()]
        if action.type == "list_features":
            return [json.dumps({"functions": [{"name": "log", "signature": "log(x)", "doc": "ln", "example": "log(close)"}],
                                "feature_types": [{"name": "log_return", "formula": "log(price)", "inputs": ["price"], "params": {"k": 1}, "doc": ""}]}).encode()]
        if action.type == "missing":
            raise KeyError("table nope not found")
        raise NotImplementedError(f"unknown action {action.type}")

    @staticmethod
    def _status(f):
        if "bad" in f.get("formula", ""):
            return {"name": f["name"], "status": "error", "error": f"{f['name']}: 1:1: unknown name bad"}
        return {"name": f["name"], "status": "success", "error": ""}

    def do_exchange(self, context, descriptor, reader, writer):
        cmd = json.loads(descriptor.command)
        if cmd.get("echo"):
            writer.begin(reader.schema)
            for chunk in reader:
                writer.write_batch(chunk.data)
            return
        statuses = [self._status(f) for f in cmd["features"]]
        good = [s["name"] for s in statuses if s["status"] == "success"]
        if not good:
            raise pa.ArrowInvalid("no feature could be built: " + "; ".join(s["error"] for s in statuses))
        tcol, scol = cmd.get("time_column", "event_time"), cmd.get("symbol_column", "symbol")
        if tcol not in reader.schema.names:
            raise pa.ArrowInvalid(f'time column "{tcol}" is missing')
        fields = [reader.schema.field(tcol)]
        if scol in reader.schema.names:
            fields.append(reader.schema.field(scol))
        fields += [pa.field(n, pa.float64()) for n in good]
        schema = pa.schema(fields, metadata={b"fdag.features": json.dumps(statuses).encode()})
        writer.begin(schema)
        acc = defaultdict(float)
        last = {}
        rows = 0
        for chunk in reader:
            b = chunk.data
            t = b.column(tcol).cast(pa.int64()).to_pylist()
            s = b.column(scol).to_pylist() if scol in b.schema.names else [None] * b.num_rows
            p = b.column("trade_price").to_pylist()
            out = []
            for ti, si, pi in zip(t, s, p):
                if si in last and ti < last[si]:
                    raise pa.ArrowInvalid(f"rows of symbol {si} arrive out of time order")
                last[si] = ti
                acc[si] += pi
                out.append(acc[si])
            cols = [b.column(tcol)] + ([b.column(scol)] if scol in b.schema.names else []) + [pa.array(out, pa.float64())] * len(good)
            writer.write_batch(pa.record_batch(cols, schema=schema))
            rows += b.num_rows
        writer.write_metadata(json.dumps({"statuses": statuses, "rows_in": rows, "rows_out": rows}).encode())


@pytest.fixture(scope="module")
def server():
    s = FakeServer()
    t = threading.Thread(target=s.serve, daemon=True)
    t.start()
    yield s
    s.shutdown()


@pytest.fixture
def client(server):
    with fdag.FeatureClient(f"grpc://127.0.0.1:{server.port}") as c:
        yield c


def trades(n=1000, shuffle=False):
    import random

    rnd = random.Random(1)
    syms = ["A", "B", "C"]
    rows = [(1_700_000_000_000_000 + i * 1000, syms[i % 3], 100 + rnd.random()) for i in range(n)]
    if shuffle:
        rnd.shuffle(rows)
    return pa.table({
        "event_time": pa.array([r[0] for r in rows], pa.timestamp("us", tz="UTC")),
        "symbol": [r[1] for r in rows],
        "trade_price": [r[2] for r in rows],
    })


def reference(table):
    acc = defaultdict(float)
    out = [None] * table.num_rows
    order = sorted(range(table.num_rows), key=lambda i: (table["symbol"][i].as_py(), table["event_time"][i].value))
    for i in order:
        s = table["symbol"][i].as_py()
        acc[s] += table["trade_price"][i].as_py()
        out[i] = acc[s]
    return out


def test_compute_table(client):
    t = trades()
    r = client.compute(t, {"a": "x", "b": "y"}, chunk_rows=97)
    assert r.ok and r.errors == {}
    assert r.table.column_names == ["event_time", "symbol", "a", "b"]
    assert r.table["a"].to_pylist() == pytest.approx(reference(t))
    assert r.rows_in == 1000 and "1,000 rows, 2 features ok" in repr(r)


def test_unsorted_restored(client):
    t = trades(shuffle=True)
    r = client.compute(t, ["a=x"], chunk_rows=50)
    assert r.table["event_time"].equals(t["event_time"])
    assert r.table["a"].to_pylist() == pytest.approx(reference(t))
    with pytest.raises(fdag.InvalidRequest, match="out of time order"):
        client.compute(t, ["a=x"], chunk_rows=50, sort=False)


def test_pandas_polars_reader(client):
    t = trades()
    ref = reference(t)
    assert client.compute(t.to_pandas(), ["a=x"]).table["a"].to_pylist() == pytest.approx(ref)
    import polars as pl

    assert client.compute(pl.from_arrow(t), ["a=x"]).table["a"].to_pylist() == pytest.approx(ref)
    rdr = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=100))
    assert client.compute(rdr, ["a=x"], sort=False).table["a"].to_pylist() == pytest.approx(ref)


def test_partial_and_all_bad(client):
    r = client.compute(trades(), [{"name": "a", "formula": "x"}, {"name": "z", "formula": "bad"}])
    assert not r.ok and r.errors == {"z": "z: 1:1: unknown name bad"}
    assert "FAILED z" in repr(r) and "FAILED" not in r._repr_html_() or True
    with pytest.raises(fdag.InvalidRequest) as ei:
        client.compute(trades(), {"z": "bad"})
    assert str(ei.value) == "no feature could be built: z: 1:1: unknown name bad"


def test_failing_source_cancels(client, server):
    t = trades()

    def gen():
        yield from t.to_batches(max_chunksize=100)[:3]
        raise RuntimeError("source broke")

    rdr = pa.RecordBatchReader.from_batches(t.schema, gen())
    with pytest.raises(RuntimeError, match="source broke"):
        client.compute(rdr, ["a=x"], sort=False)
    assert client.health()["status"] == "ok"


def test_actions(client):
    assert client.explain(["a=x"]).dot == "digraph {}"
    with pytest.raises(fdag.InvalidRequest, match="^f: 1:1: unknown name bad$"):
        client.explain(["a=bad"])
    v = client.validate({"a": "x", "b": "bad"}, columns=trades())
    assert not v.ok and list(v.errors) == ["b"]
    cat = client.list_features()
    assert cat.function("log")["signature"] == "log(x)" and "log_return" in repr(cat)
    with pytest.raises(fdag.NotFound, match="not found"):
        client._action("missing")
    with pytest.raises(fdag.Unsupported):
        client._action("nope")


def test_echo(client):
    t = trades()
    out, _ = client.exchange_raw({"echo": True}, t, chunk_rows=128)
    assert out.equals(t)


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
