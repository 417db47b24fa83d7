"""Interop: pyiceberg opens the embedded SQLite catalog that the Go binary
wrote (fdag ingest, fdag run) and reads cdm_trade_enriched and ft_features,
getting the same rows as the inputs, as Go's own reader (fdag read) and as
`fdag compute` over the same trades.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import run_fdag

pyiceberg = pytest.importorskip("pyiceberg", reason="pyiceberg is in tests/python/requirements.txt")
from pyiceberg.catalog.sql import SqlCatalog  # noqa: E402

REAL_AGG = Path("/work/shared/data/real/binance_spot_xrpeth_aggtrades/"
                "XRPETH-aggTrades-2019-10-11_to_2019-10-13.derived.csv")
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
FEATURES = {
    "ret_1": "log(close) - log(lag(close, 1))",
    "mean_20": "rolling_mean(close, 20)",
    "std_5m": "rolling_std(close, '5m')",
}
START, END = "2024-01-02T00:00:00Z", "2024-01-04T00:00:00Z"


def open_catalog(project: Path) -> SqlCatalog:
    state = project / ".fdag"
    return SqlCatalog("fdag", uri=f"sqlite:///{state / 'catalog.db'}", warehouse=f"file://{state / 'warehouse'}")


def sort_trades(t: pa.Table) -> pa.Table:
    return t.sort_by([("symbol", "ascending"), ("event_time", "ascending"), ("trade_id", "ascending")])


def binance_rows(path: Path, symbol: str) -> pa.Table:
    """An independent reading of a headerless aggTrades dump."""
    cols = {k: [] for k in ["symbol", "venue", "event_time", "trade_price", "trade_size", "side", "trade_id"]}
    with open(path, newline="") as f:
        for rec in csv.reader(f):
            cols["symbol"].append(symbol)
            cols["venue"].append("binance")
            cols["event_time"].append(int(rec[5]) * 1000)
            cols["trade_price"].append(float(rec[1]))
            cols["trade_size"].append(float(rec[2]))
            cols["side"].append("sell" if rec[6] in ("True", "true") else "buy")
            cols["trade_id"].append(int(rec[0]))
    cols["event_time"] = pa.array(cols["event_time"], pa.timestamp("us", tz="UTC"))
    return pa.table(cols)


@pytest.fixture(scope="module")
def project(fdag_bin: str, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("iceberg")
    proj = root / "project"
    proj.mkdir()
    run_fdag(fdag_bin, "demo-data", "--out", str(root), "--rows", "40000", "--days", "3",
             "--symbols", ",".join(SYMBOLS), "--seed", "5")
    files = [str(root / "demo.parquet")]
    if REAL_AGG.exists():
        files.append(str(REAL_AGG))
    run_fdag(fdag_bin, "ingest", "--project", str(proj), *files)
    args = ["run", "--project", str(proj), "--symbols", ",".join(SYMBOLS), "--start", START, "--end", END,
            "--shard", "6h"]
    for name, formula in FEATURES.items():
        args += ["--feature", f"{name}={formula}"]
    run_fdag(fdag_bin, *args)
    return proj


def test_pyiceberg_reads_trades_written_by_go(project: Path):
    cat = open_catalog(project)
    assert ("fdag", "cdm_trade_enriched") in cat.list_tables("fdag")
    tbl = cat.load_table("fdag.cdm_trade_enriched")
    assert [f.name for f in tbl.spec().fields] == ["symbol", "event_time_day"]
    got = sort_trades(tbl.scan().to_arrow())
    demo = pq.read_table(project.parent / "demo.parquet")
    parts = [demo]
    if REAL_AGG.exists():
        parts.append(binance_rows(REAL_AGG, "XRPETH"))
    want = sort_trades(pa.concat_tables([p.cast(got.schema) for p in parts]))
    assert got.num_rows == want.num_rows
    assert got.equals(want), "pyiceberg's rows differ from the ingested files"


def test_pyiceberg_reads_ft_features_written_by_go(project: Path, fdag_bin: str):
    cat = open_catalog(project)
    tbl = cat.load_table("fdag.ft_features")
    assert [f.name for f in tbl.spec().fields] == ["feature_name", "timestamp_day"]
    py = tbl.scan().to_arrow()
    go_path = project.parent / "ft_go.parquet"
    run_fdag(fdag_bin, "read", "--project", str(project), "--table", "ft_features", "--output", str(go_path))
    go = pq.read_table(go_path)
    keys = [("feature_name", "ascending"), ("symbol", "ascending"), ("timestamp", "ascending"),
            ("feature_value_numeric", "ascending")]
    py_sorted = py.sort_by(keys)
    go_sorted = go.cast(py.schema).sort_by(keys)
    assert py_sorted.num_rows == go_sorted.num_rows > 0
    assert py_sorted.equals(go_sorted), "pyiceberg and fdag read disagree on ft_features"
    assert set(py.column("status").to_pylist()) == {"success"}
    assert set(py.column("feature_name").to_pylist()) == set(FEATURES)


def test_ft_features_match_compute_over_all_trades(project: Path, fdag_bin: str):
    """Shards of 6h with warmup give the values of one computation over every
    trade: the warmup read before each shard is enough (bit for bit, except
    the last bits of the rolling std, see below)."""
    demo = pq.read_table(project.parent / "demo.parquet")
    wide_path = project.parent / "wide.parquet"
    args = ["compute", "--input", str(project.parent / "demo.parquet"), "--output", str(wide_path)]
    for name, formula in FEATURES.items():
        args += ["--feature", f"{name}={formula}"]
    run_fdag(fdag_bin, *args)
    wide = pq.read_table(wide_path)
    assert wide.num_rows == demo.num_rows
    ts = pa.timestamp("us", tz="UTC")
    start = pa.scalar(datetime(2024, 1, 2, tzinfo=timezone.utc), ts)
    end = pa.scalar(datetime(2024, 1, 4, tzinfo=timezone.utc), ts)
    narrow = open_catalog(project).load_table("fdag.ft_features").scan().to_arrow()
    checked = 0
    for sym in SYMBOLS:
        m = pc.and_(pc.equal(wide["symbol"], sym),
                    pc.and_(pc.greater_equal(wide["event_time"], start), pc.less(wide["event_time"], end)))
        w = wide.filter(m)
        for name in FEATURES:
            n = narrow.filter(pc.and_(pc.equal(narrow["feature_name"], name), pc.equal(narrow["symbol"], sym)))
            n = n.sort_by([("timestamp", "ascending")])
            assert n.num_rows == w.num_rows, (sym, name)
            assert n["timestamp"].to_pylist() == w["event_time"].to_pylist()
            for a, b in zip(n["feature_value_numeric"].to_pylist(), w[name].to_pylist()):
                if name == "std_5m" and a is not None and b is not None:
                    # rolling std keeps compensated running sums whose last
                    # bits depend on where the computation started
                    assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), \
                        (sym, name, a, b)
                else:
                    assert a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b)), \
                        (sym, name, a, b)
                checked += 1
    assert checked > 10000


def test_rerun_replaces_rows(project: Path, fdag_bin: str):
    cat = open_catalog(project)
    before = cat.load_table("fdag.ft_features").scan().to_arrow().num_rows
    args = ["run", "--project", str(project), "--symbols", "BTCUSDT", "--start", "2024-01-03", "--end", "2024-01-04",
            "--feature", f"ret_1={FEATURES['ret_1']}"]
    run_fdag(fdag_bin, *args)
    after = open_catalog(project).load_table("fdag.ft_features").scan().to_arrow()
    assert after.num_rows == before, "re-running a feature for a symbol and range must replace its rows"


def test_bad_ingest_writes_nothing(project: Path, fdag_bin: str, tmp_path: Path):
    bad = tmp_path / "BTCUSDT-trades-2024-01-05.csv"
    bad.write_text("id,price,qty,quote_qty,time,is_buyer_maker\n"
                   "1,100.5,1,100.5,1704412800000,true\n"
                   "2,oops,1,1,1704412800001,false\n")
    before = open_catalog(project).load_table("fdag.cdm_trade_enriched").scan().to_arrow().num_rows
    proc = run_fdag(fdag_bin, "ingest", "--project", str(project), str(bad), check=False)
    assert proc.returncode == 1
    assert f"{bad}:3:3: column \"price\"" in proc.stderr
    after = open_catalog(project).load_table("fdag.cdm_trade_enriched").scan().to_arrow().num_rows
    assert after == before


def test_bad_value_in_table_format_csv_names_file_line_column(project: Path, fdag_bin: str, tmp_path: Path):
    # issue 8: a table-format CSV (the table's own column names) with a bad
    # number said only `column "trade_price": cannot store utf8 as float64`.
    bad = tmp_path / "trades.csv"
    bad.write_text("symbol,venue,event_time,trade_price,trade_size,side,trade_id\n"
                   "BTCUSDT,binance,2024-01-05T00:00:00Z,100.5,1,buy,1\n"
                   "BTCUSDT,binance,2024-01-05T00:00:01Z,101,1,sell,2\n"
                   "BTCUSDT,binance,2024-01-05T00:00:02Z,abc,1,buy,3\n")
    before = open_catalog(project).load_table("fdag.cdm_trade_enriched").scan().to_arrow().num_rows
    proc = run_fdag(fdag_bin, "ingest", "--project", str(project), "--table", "cdm_trade_enriched", str(bad), check=False)
    assert proc.returncode == 1, proc.stderr
    assert f'{bad}:4: column "trade_price": cannot parse "abc" as float64' in proc.stderr, proc.stderr
    after = open_catalog(project).load_table("fdag.cdm_trade_enriched").scan().to_arrow().num_rows
    assert after == before
