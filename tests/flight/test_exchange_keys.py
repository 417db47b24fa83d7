"""compute() asks the server to leave the time and symbol columns out of its
answer (``"keys": false``, docs/flight.md) when it holds the input table, and
puts them back itself: the result must be the table the server sends with
its keys, schema (nullability, statuses metadata) and values alike."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from reference import FEATURES, make_trades

SPECS = [f.spec for f in FEATURES]


def with_server_keys(client, table: pa.Table, **cmd) -> pa.Table:
    """The server's own answer, keys included, for ``table`` sent as it is."""
    out, _ = client.exchange_raw({"features": SPECS, **cmd}, table, chunk_rows=700)
    return out


@pytest.fixture(scope="module")
def trades() -> pa.Table:
    return make_trades()


@pytest.mark.parametrize("case", ["time and symbol", "no symbol column", "symbol_column=None",
                                  "dictionary symbol", "other names"])
def test_keys_put_back_equal_the_servers(client, trades, case):
    table, kwargs, cmd = trades, {}, {}
    if case == "no symbol column":
        table = trades.filter(pc.equal(trades["symbol"], trades["symbol"][0])).drop_columns(["symbol"])
    elif case == "symbol_column=None":  # the server's default symbol column is "symbol"
        kwargs = {"symbol_column": None}
    elif case == "dictionary symbol":  # sent as plain strings, and so are the keys put back
        table = trades.set_column(trades.schema.get_field_index("symbol"), "symbol",
                                  pc.dictionary_encode(trades["symbol"]))
        cmd_table = trades
    elif case == "other names":
        table = trades.rename_columns({"event_time": "ts", "symbol": "ticker"})
        kwargs = {"time_column": "ts", "symbol_column": "ticker"}
        cmd = kwargs
    got = client.compute(table, SPECS, sort=False, chunk_rows=700, **kwargs).table
    want = with_server_keys(client, cmd_table if case == "dictionary symbol" else table, **cmd)
    assert got.schema.equals(want.schema, check_metadata=True), f"\n{got.schema}\n{want.schema}"
    assert got.equals(want)


def test_sorted_input_keys_in_the_callers_order(client, trades):
    shuffled = trades.take(pa.array(list(range(trades.num_rows))[::-1]))
    got = client.compute(shuffled, SPECS).table  # sort=True: sorted, sent, put back in order
    assert got["event_time"].equals(shuffled["event_time"])
    assert got["symbol"].to_pylist() == shuffled["symbol"].to_pylist()


def test_a_stream_gets_the_keys_from_the_server(client, trades):
    reader = pa.RecordBatchReader.from_batches(trades.schema, trades.to_batches(max_chunksize=500))
    got = client.compute(reader, SPECS, sort=False).table
    assert got.equals(with_server_keys(client, trades))


class _ServerBeforeKeys(pa.flight.FlightServerBase):
    """A DoExchange as servers before "keys" answered it: the command's
    unknown field refused, else the time and symbol columns and one feature
    (the price, doubled)."""

    def __init__(self):
        super().__init__("grpc://127.0.0.1:0")
        self.commands = []

    def do_exchange(self, context, descriptor, reader, writer):
        import json

        cmd = json.loads(descriptor.command)
        self.commands.append(cmd)
        unknown = sorted(set(cmd) - {"features", "time_column", "symbol_column", "aliases"})
        if unknown:
            raise pa.ArrowInvalid(f'DoExchange: malformed JSON command: unknown field "{unknown[0]}"')
        schema = pa.schema([("event_time", reader.schema.field("event_time").type), ("symbol", pa.string()),
                            ("x", pa.float64())])
        writer.begin(schema)
        for chunk in reader:
            b = chunk.data
            writer.write_batch(pa.record_batch([b["event_time"], b["symbol"], pc.multiply(b["trade_price"], 2.0)],
                                               schema=schema))


def test_a_server_before_keys_is_asked_again_with_them(trades):
    import fdag

    server = _ServerBeforeKeys()
    try:
        client = fdag.FeatureClient(f"grpc://127.0.0.1:{server.port}")
        got = client.compute(trades, {"x": "trade_price * 2"}, sort=False, chunk_rows=500).table
        assert [c.get("keys") for c in server.commands] == [False, None]
        assert got.column_names == ["event_time", "symbol", "x"]
        assert got["x"].to_pylist() == pc.multiply(trades["trade_price"], 2.0).to_pylist()
    finally:
        server.shutdown()
