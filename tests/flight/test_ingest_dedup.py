"""Ingest over Flight (DoPut) keeps the same rule as `fdag ingest`: a
(symbol, trade_id) is stored once, however often or from wherever it is
sent (issue 11 item 5), on the real Binance LTCUSDT trades."""

from __future__ import annotations

import subprocess
import threading
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

import fdag

LTC = Path("/work/shared/data/real/binance_spot_ltcusdt_aggtrades_ws")
FILES = [LTC / f"LTCUSDT_2025-06-22_{h}_trades.csv" for h in ("03h", "06h", "09h")]
pytestmark = pytest.mark.skipif(not all(p.exists() for p in FILES), reason=f"the real Binance files are not in {LTC}")


def ltc(path: Path) -> pa.Table:
    """The file as cdm_trade_enriched rows, read independently of fdag."""
    t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={"tradeId": pa.int64()}))
    return pa.table({
        "symbol": pa.array(["LTCUSDT"] * t.num_rows),
        "event_time": pc.cast(pc.multiply(t["timestamp"], 1000), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "trade_price": t["price"].cast(pa.float64()),
        "trade_size": t["quantity"].cast(pa.float64()),
        "side": t["side"],
        "trade_id": t["tradeId"],
    })


@pytest.fixture
def wh(start_server, tmp_path):
    (tmp_path / "p").mkdir()
    server = start_server("--project", str(tmp_path / "p"), name="ingest-dedup")
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        yield c, tmp_path / "p"


def stored(c) -> pa.Table:
    return c.read_table("cdm_trade_enriched", columns=["symbol", "trade_id"], on_empty="ignore")


def test_doput_skips_stored_trades(wh):
    c, _ = wh
    first = ltc(FILES[0])
    r = c.ingest(first)
    assert (r.rows, r.duplicates, r.without_key) == (10717, 0, 0), r
    r = c.ingest(first)
    assert (r.rows, r.duplicates, r.files) == (0, 10717, 0), r
    # an overlapping batch: the first file again with the second
    r = c.ingest(pa.concat_tables([first, ltc(FILES[1])]))
    assert (r.rows, r.duplicates) == (26233, 10717), r
    t = stored(c)
    assert t.num_rows == 10717 + 26233 == t.group_by(["symbol", "trade_id"]).aggregate([]).num_rows


def test_cli_and_flight_share_the_rule(wh, fdag_bin):
    c, project = wh
    c.ingest(ltc(FILES[0]).slice(0, 100))  # the server creates the warehouse
    proc = subprocess.run([fdag_bin, "ingest", "--project", str(project), "--symbol", "LTCUSDT",
                           "--map", "event_time=timestamp", "--map", "trade_price=price", "--map", "trade_size=quantity",
                           "--map", "trade_id=tradeId", "--time-unit", "ms", str(FILES[0])],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("10617 rows") and "100 duplicate rows skipped" in proc.stdout, proc.stdout
    r = c.ingest(ltc(FILES[0]))
    assert (r.rows, r.duplicates) == (0, 10717), r


def test_concurrent_doputs_of_the_same_trades(wh):
    c, _ = wh
    c.ingest(ltc(FILES[0]).slice(0, 10))
    data = ltc(FILES[1])
    results, errors = [], []

    def one():
        try:
            results.append(c.ingest(data))
        except fdag.FdagError as e:
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for e in errors:  # a loser may be refused, clearly, with nothing written
        assert "concurrent ingest committed some of the same trades first" in str(e), e
    assert sum(r.rows for r in results) == data.num_rows, (results, errors)
    t = stored(c)
    assert t.num_rows == 10 + data.num_rows == t.group_by(["symbol", "trade_id"]).aggregate([]).num_rows


def test_rows_without_trade_id_warn(wh):
    c, _ = wh
    t = ltc(FILES[0]).slice(0, 50).drop_columns(["trade_id"])
    for _ in range(2):
        with pytest.warns(fdag.FdagWarning, match="50 rows without trade_id"):
            r = c.ingest(t)
        assert (r.rows, r.without_key, r.duplicates) == (50, 50, 0), r
    assert stored(c).num_rows == 100
