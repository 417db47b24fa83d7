"""Ingest hygiene (issue 11 item 5) on the real Binance files, through the
fdag binary: re-ingesting a file, or files that overlap, adds each
(symbol, trade_id) once; a headered CSV without a symbol column ingests with
--symbol; a bad row names file and line and leaves the table unchanged
(checked with pyiceberg, an independent reader)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from conftest import run_fdag

pytest.importorskip("pyiceberg", reason="pyiceberg is in tests/python/requirements.txt")
from test_iceberg_interop import open_catalog  # noqa: E402

REAL = Path("/work/shared/data/real")
LTC = REAL / "binance_spot_ltcusdt_aggtrades_ws"
LTC_FILES = [LTC / f"LTCUSDT_2025-06-22_{h}_trades.csv" for h in ("03h", "06h", "09h")]
XRP = REAL / "binance_spot_xrpeth_aggtrades" / "XRPETH-aggTrades-2019-10-11_to_2019-10-13.derived.csv"
TARDIS = REAL / "binance_futures_btcusdt_tardis" / "tardis_trades.csv"
LTC_MAP = ["--map", "event_time=timestamp", "--map", "trade_price=price", "--map", "trade_size=quantity",
           "--map", "trade_id=tradeId", "--time-unit", "ms"]
TARDIS_MAP = ["--map", "event_time=timestamp", "--map", "trade_price=price", "--map", "trade_size=amount",
              "--map", "trade_id=id", "--time-unit", "us"]

pytestmark = pytest.mark.skipif(not all(p.exists() for p in [*LTC_FILES, XRP, TARDIS]),
                                reason=f"the real Binance files are not in {REAL}")


def trades(project: Path) -> pa.Table:
    return open_catalog(project).load_table("fdag.cdm_trade_enriched").scan().to_arrow()


def snapshots(project: Path) -> int:
    return len(open_catalog(project).load_table("fdag.cdm_trade_enriched").metadata.snapshots)


def keys(t: pa.Table) -> int:
    return t.group_by(["symbol", "trade_id"]).aggregate([]).num_rows


def ingest(fdag_bin: str, project: Path, *args: str, check: bool = True):
    project.mkdir(exist_ok=True)  # fdag refuses a --project that does not exist
    return run_fdag(fdag_bin, "ingest", "--project", str(project), *args, check=check)


def test_reingest_and_overlap_add_each_trade_once(fdag_bin: str, tmp_path: Path):
    proj = tmp_path / "p"
    out = ingest(fdag_bin, proj, "--symbol", "LTCUSDT", *LTC_MAP, str(LTC_FILES[0])).stdout
    assert out.startswith("10717 rows from 1 file"), out
    # all three files: the first one's 10,717 trades are already there
    out = ingest(fdag_bin, proj, "--symbol", "LTCUSDT", *LTC_MAP, *map(str, LTC_FILES)).stdout
    assert out.startswith("53827 rows from 3 files"), out
    assert "10717 duplicate rows skipped" in out, out
    before = snapshots(proj)
    # the same files again: nothing new, no snapshot
    out = ingest(fdag_bin, proj, "--symbol", "LTCUSDT", *LTC_MAP, *map(str, LTC_FILES)).stdout
    assert out.startswith("0 rows"), out
    assert "64544 duplicate rows skipped" in out, out
    assert snapshots(proj) == before
    # a Binance dump twice in one command, and a Tardis file (own symbol column) twice
    out = ingest(fdag_bin, proj, "--symbol", "XRPETH", str(XRP), str(XRP)).stdout
    assert out.startswith("12477 rows from 2 files") and "12477 duplicate rows skipped" in out, out
    for want in ("9999 rows", "0 rows"):
        out = ingest(fdag_bin, proj, *TARDIS_MAP, str(TARDIS)).stdout
        assert out.startswith(want), out
    t = trades(proj)
    assert t.num_rows == keys(t) == 64544 + 12477 + 9999
    per = dict(zip(*t.group_by("symbol").aggregate([("trade_id", "count")]).to_pydict().values()))
    assert per == {"LTCUSDT": 64544, "XRPETH": 12477, "BTCUSDT": 9999}
    # the values are the file's (spot check: the first LTC trade)
    ltc = t.filter(pc.equal(t["symbol"], "LTCUSDT")).sort_by("trade_id")
    with open(LTC_FILES[0]) as f:
        f.readline()
        ts, price, qty, side, tid = f.readline().strip().split(",")
    row = ltc.slice(0, 1).to_pylist()[0]
    assert (row["trade_id"], row["trade_price"], row["trade_size"], row["side"]) == (int(tid), float(price), float(qty), side)
    assert row["event_time"].timestamp() * 1000 == pytest.approx(int(ts))


def test_headered_csv_without_symbol_needs_symbol(fdag_bin: str, tmp_path: Path):
    proj = tmp_path / "p"
    proc = ingest(fdag_bin, proj, *LTC_MAP, str(LTC_FILES[0]), check=False)
    assert proc.returncode == 1
    assert 'column "symbol" is missing' in proc.stderr and "--symbol" in proc.stderr, proc.stderr
    proc = ingest(fdag_bin, proj, "--symbol", "BTCUSDT", *TARDIS_MAP, str(TARDIS), check=False)
    assert proc.returncode == 1 and 'has a "symbol" column already' in proc.stderr, proc.stderr


@pytest.mark.parametrize("line, text, want", [
    (5000, "1750593600000,abc,1.0,buy,999", ':5000: column "trade_price": cannot parse "abc" as float64'),
    (7000, "1750593600000,78.1,1.0", ":7000: expected 5 fields as in the header, got 3"),
    (7001, "notatime,78.1,1.0,buy,5", ':7001: column "timestamp": cannot parse "notatime" as an integer time'),
])
def test_bad_row_names_file_line_and_writes_nothing(fdag_bin: str, tmp_path: Path, line: int, text: str, want: str):
    proj = tmp_path / "p"
    ingest(fdag_bin, proj, "--symbol", "LTCUSDT", *LTC_MAP, str(LTC_FILES[0]))
    before, snaps = trades(proj), snapshots(proj)
    lines = LTC_FILES[1].read_text().splitlines()
    lines[line - 1] = text
    bad = tmp_path / "LTCUSDT_bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    good = tmp_path / "good.csv"
    shutil.copy(LTC_FILES[2], good)
    # a good file first, then the bad one: neither lands
    proc = ingest(fdag_bin, proj, "--symbol", "LTCUSDT", *LTC_MAP, str(good), str(bad), check=False)
    assert proc.returncode == 1
    assert f"{bad}{want}" in proc.stderr, proc.stderr
    assert snapshots(proj) == snaps
    assert trades(proj).equals(before)
