"""`fdag compact` (issue 11 item 6): after many small `fdag run` shards, the
small files of each partition are rewritten into one, in one snapshot, and
pyiceberg (an independent reader) and `fdag read` see the same rows before
and after; a `fdag run` committing at the same time loses and doubles
nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_fdag

pytest.importorskip("pyiceberg", reason="pyiceberg is in tests/python/requirements.txt")
from test_iceberg_interop import open_catalog  # noqa: E402

SYMBOLS = "AAA,BBB"
START, END = "2024-01-02", "2024-01-04"
FEATURES = {"ret_1": "log(close) - log(lag(close, 1))", "mean_50": "rolling_mean(close, 50)",
            "vol_5m": "rolling_std(close, '5m')"}
KEY = ["feature_name", "symbol", "timestamp", "seq"]


def run_args(project: Path, shard: str) -> list[str]:
    args = ["run", "--project", str(project), "--symbols", SYMBOLS, "--start", START, "--end", END, "--shard", shard]
    for name, formula in FEATURES.items():
        args += ["--feature", f"{name}={formula}"]
    return args


@pytest.fixture
def project(fdag_bin: str, tmp_path: Path) -> Path:
    proj = tmp_path / "p"
    run_fdag(fdag_bin, "demo-data", "--project", str(proj), "--rows", "40000", "--days", "2",
             "--symbols", SYMBOLS, "--seed", "4")
    run_fdag(fdag_bin, *run_args(proj, "4h"))  # 12 shards a symbol: 12 x 2 files per (feature, day)
    return proj


def features(project: Path) -> tuple[pa.Table, int]:
    """ft_features by pyiceberg, in key order, and its live data files."""
    tbl = open_catalog(project).load_table("fdag.ft_features")
    files = len(list(tbl.scan().plan_files()))
    return tbl.scan().to_arrow().sort_by([(k, "ascending") for k in KEY]), files


def values(t: pa.Table) -> pa.Table:
    return t.drop_columns(["processed_time"])


def test_compact_rewrites_files_keeping_rows(project: Path, fdag_bin: str, tmp_path: Path):
    before, files_before = features(project)
    assert files_before > 6 * 8, f"{files_before} files: want many small files per (feature, day) partition"
    read_before = tmp_path / "before.parquet"
    run_fdag(fdag_bin, "read", "--project", str(project), "--table", "ft_features", "--output", str(read_before))
    snaps = len(open_catalog(project).load_table("fdag.ft_features").metadata.snapshots)

    dry = run_fdag(fdag_bin, "compact", "--project", str(project), "--table", "ft_features", "--dry-run").stdout
    assert f"would rewrite 6 partitions ({files_before} small files" in dry, dry
    assert features(project)[1] == files_before
    # one feature first, then the rest
    one = json.loads(run_fdag(fdag_bin, "compact", "--project", str(project), "--table", "ft_features",
                              "--where", "feature_name=ret_1", "--json").stdout)[0]
    assert (one["partitions"], one["files_before"], one["files_after"]) == (2, files_before // 3, 2), one
    rest = run_fdag(fdag_bin, "compact", "--project", str(project), "--table", "ft_features").stdout
    assert f"rewrote 4 partitions: {files_before - files_before // 3} files -> 4" in rest, rest

    after, files_after = features(project)
    assert files_after == 6
    assert after.equals(before), "compaction changed the rows pyiceberg reads"
    read_after = tmp_path / "after.parquet"
    run_fdag(fdag_bin, "read", "--project", str(project), "--table", "ft_features", "--output", str(read_after))
    assert pq.read_table(read_after).equals(pq.read_table(read_before)), "fdag read differs after compaction"
    meta = open_catalog(project).load_table("fdag.ft_features").metadata
    assert len(meta.snapshots) == snaps + 2
    assert meta.snapshots[-1].summary.operation.value == "replace"
    again = run_fdag(fdag_bin, "compact", "--project", str(project), "--table", "ft_features").stdout
    assert "nothing to compact" in again, again


def test_compact_while_a_run_commits(project: Path, fdag_bin: str):
    before, _ = features(project)
    # the same run again (new files of the same rows) while compacting. (Same shards: with other
    # shard lengths the values differ in the last bit, ~3e-17, as windows start elsewhere.)
    run = subprocess.Popen([fdag_bin, *run_args(project, "4h")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    comp = subprocess.run([fdag_bin, "compact", "--project", str(project), "--table", "ft_features", "--json"],
                          capture_output=True, text=True, timeout=600)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert comp.returncode == 0, comp.stderr
    rep = json.loads(comp.stdout)[0]
    after, files = features(project)
    # whichever committed first, the rows are the run's rows, once each
    assert after.num_rows == before.num_rows
    assert after.group_by(KEY).aggregate([]).num_rows == after.num_rows, "duplicated rows"
    assert values(after).equals(values(before))
    assert rep["partitions"] + len(rep.get("changed") or []) <= 6, rep
