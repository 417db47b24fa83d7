"""Issue 8 item 7: a clean failure of the CLI or the server leaves nothing
behind. Each case fails one command or call on a warehouse that already
holds trades, features and bars, and then checks that the warehouse
directory holds exactly the files it held before (data, manifests and
metadata alike) and every table is at the snapshot it was at. Crashes
(SIGKILL) are another matter: their staged files are gc's
(tests/python/test_crash_safety.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

import fdag

pytest.importorskip("pyiceberg", reason="pyiceberg is in tests/python/requirements.txt")
from pyiceberg.catalog.sql import SqlCatalog  # noqa: E402

SYMBOLS = "BTCUSDT,ETHUSDT"
WINDOW = ["--symbols", SYMBOLS, "--start", "2024-01-02", "--end", "2024-01-04"]


def fdag_cli(fdag_bin: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([fdag_bin, *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))


def warehouse_files(project: Path) -> set[str]:
    root = project / ".fdag" / "warehouse"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def snapshots(project: Path) -> dict[str, int | None]:
    state = project / ".fdag"
    cat = SqlCatalog("fdag", uri=f"sqlite:///{state / 'catalog.db'}", warehouse=f"file://{state / 'warehouse'}")
    out = {}
    for ident in cat.list_tables("fdag"):
        snap = cat.load_table(ident).current_snapshot()
        out[".".join(ident)] = snap.snapshot_id if snap else None
    return out


@pytest.fixture(scope="module")
def project(fdag_bin, tmp_path_factory) -> Path:
    proj = tmp_path_factory.mktemp("clean") / "p"
    for args in (["demo-data", "--project", str(proj), "--rows", "20000", "--days", "2", "--symbols", SYMBOLS],
                 ["run", "--project", str(proj), "--feature", "ma=rolling_mean(close, 20)", "--shard", "12h", *WINDOW],
                 ["bars", "--project", str(proj), "--kinds", "tick:50", *WINDOW]):
        proc = fdag_cli(fdag_bin, *args)
        assert proc.returncode == 0, (args, proc.stderr)
    return proj


@pytest.fixture(scope="module")
def client(start_server, project):
    server = start_server("--project", str(project), name="clean-failures")
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        yield c


class Unchanged:
    """Asserts that the block leaves the warehouse's files and snapshots as they were."""

    def __init__(self, project: Path):
        self.project = project

    def __enter__(self):
        self.files, self.snaps = warehouse_files(self.project), snapshots(self.project)
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            return False
        added = warehouse_files(self.project) - self.files
        removed = self.files - warehouse_files(self.project)
        assert not added and not removed, f"files added {sorted(added)[:5]}, removed {sorted(removed)[:5]}"
        assert snapshots(self.project) == self.snaps
        return False


def bad_trades_csv(path: Path) -> Path:
    path.write_text("event_time,symbol,trade_id,trade_price,trade_quantity,side\n"
                    "2024-01-05T00:00:00Z,BTCUSDT,900000001,42000.5,0.1,buy\n"
                    "2024-01-05T00:00:01Z,BTCUSDT,900000002,not-a-price,0.2,sell\n")
    return path


CLI_FAILURES = {
    "ingest of a bad row": lambda tmp: ["ingest", str(bad_trades_csv(tmp / "bad.csv"))],
    "ingest of a missing file": lambda tmp: ["ingest", str(tmp / "missing.csv")],
    "run whose shard fails after staging": lambda tmp: (
        ["run", "--feature", "ma=rolling_mean(close, 20)", "--shard", "12h", "--retries", "1", *WINDOW],
        {"FDAG_TEST_HOOK": "shard.staged@ETHUSDT=fail"}),
    "run failing before its commit": lambda tmp: (
        ["run", "--feature", "ma=rolling_mean(close, 20)", "--shard", "12h", *WINDOW],
        {"FDAG_TEST_HOOK": "run.before-commit=fail"}),
    "run over a missing source": lambda tmp: ["run", "--feature", "a=log(close)", "--source", "cdm_bars_tick_7", *WINDOW],
    "bars over a missing source": lambda tmp: ["bars", "--kinds", "tick:50", "--source", "cdm_nope", *WINDOW],
    "labels over a missing source": lambda tmp: ["labels", "--methods", "fixed_horizon:h=1", "--source",
                                                 "cdm_bars_tick_7", *WINDOW],
    "run of no computable feature": lambda tmp: ["run", "--feature", "a=log(clsoe)", *WINDOW],
}


@pytest.mark.parametrize("case", sorted(CLI_FAILURES))
def test_failed_command_leaves_nothing(fdag_bin, project, tmp_path, case):
    spec = CLI_FAILURES[case](tmp_path)
    args, env = spec if isinstance(spec, tuple) else (spec, None)
    with Unchanged(project):
        proc = fdag_cli(fdag_bin, args[0], "--project", str(project), *args[1:], env=env)
        assert proc.returncode != 0, f"{case}: exit 0\n{proc.stdout}\n{proc.stderr}"
        assert "panic" not in proc.stderr and "goroutine " not in proc.stderr, proc.stderr


def trades_batch(times: list, price: float = 42000.0) -> pa.RecordBatch:
    n = len(times)
    return pa.record_batch({
        "event_time": pa.array(times, pa.timestamp("us", tz="UTC")),
        "symbol": ["BTCUSDT"] * n,
        "trade_id": pa.array(range(800000000, 800000000 + n), pa.int64()),
        "trade_price": [price] * n,
        "trade_quantity": [0.5] * n,
        "side": ["buy"] * n,
    })


def test_failed_doput_leaves_nothing(client, project):
    import datetime as dt

    t0 = dt.datetime(2024, 1, 5, tzinfo=dt.timezone.utc)
    good = trades_batch([t0 + dt.timedelta(seconds=i) for i in range(1000)])
    with Unchanged(project):
        # into a table that does not exist: refused, and not created
        with pytest.raises(fdag.FdagError):
            client.ingest(good, table="cdm_not_a_table")
        # a good batch, then one with a null time: the first is not kept
        bad = trades_batch([t0, None])
        with pytest.raises(fdag.FdagError):
            client.ingest(pa.Table.from_batches([good, bad.cast(good.schema)]), chunk_rows=1000)
    assert "fdag.cdm_not_a_table" not in snapshots(project)


def test_failed_actions_leave_nothing(client, project):
    with Unchanged(project):
        with pytest.raises(fdag.FdagError):
            client.run_batch(SYMBOLS.split(","), "2024-01-02", "2024-01-04", {"a": "log(close)"},
                             source="cdm_bars_tick_7", progress=False)
        with pytest.raises(fdag.FdagError):
            client.bars(["tick:50"], SYMBOLS.split(","), "2024-01-02", "2024-01-04", source="cdm_nope")
        with pytest.raises(fdag.FdagError):
            client.labels(["fixed_horizon:h=1"], SYMBOLS.split(","), "2024-01-02", "2024-01-04",
                          source="cdm_bars_tick_7")
