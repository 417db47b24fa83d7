"""Crash safety of `fdag run` on the real binary: a run killed with
SIGKILL at several points (before any shard stages, after shards staged,
between staging and the commit, right after the commit) leaves ft_features
exactly as before or exactly as after; `fdag gc` (and the next run) remove
the dead run's staged files and nothing else; two runs committing to the
same table at once both land, with no lost or duplicated rows.

Points are reached through the test hook FDAG_TEST_HOOK (internal/testhook):
POINT=kill makes the process SIGKILL itself there, POINT=pause stops it
there until the test kills it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from conftest import run_fdag

pyiceberg = pytest.importorskip("pyiceberg", reason="pyiceberg is in tests/python/requirements.txt")
from pyiceberg.catalog.sql import SqlCatalog  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
START, END = "2024-01-02", "2024-01-04"
FEATURES = {"ret_1": "log(close) - log(lag(close, 1))", "ma_20": "rolling_mean(close, 20)"}


def catalog(project: Path) -> SqlCatalog:
    state = project / ".fdag"
    return SqlCatalog("fdag", uri=f"sqlite:///{state / 'catalog.db'}", warehouse=f"file://{state / 'warehouse'}")


def features_state(project: Path) -> tuple[int | None, pa.Table]:
    """The current snapshot id and the rows (without processed_time) of ft_features."""
    tbl = catalog(project).load_table("fdag.ft_features")
    snap = tbl.current_snapshot()
    rows = tbl.scan(selected_fields=("symbol", "feature_name", "timestamp", "feature_value_numeric", "status")).to_arrow()
    rows = rows.sort_by([("symbol", "ascending"), ("feature_name", "ascending"), ("timestamp", "ascending"),
                         ("feature_value_numeric", "ascending")])
    return (snap.snapshot_id if snap else None), rows


def data_files(project: Path) -> set[str]:
    return {str(p) for p in (project / ".fdag" / "warehouse").rglob("ft_features/data/**/*.parquet")}


def run_args(project: Path, features: dict[str, str], symbols=SYMBOLS) -> list[str]:
    args = ["run", "--project", str(project), "--symbols", ",".join(symbols), "--start", START, "--end", END,
            "--shard", "12h"]
    for name, formula in features.items():
        args += ["--feature", f"{name}={formula}"]
    return args


@pytest.fixture()
def project(fdag_bin: str, tmp_path: Path) -> Path:
    proj = tmp_path / "project"
    run_fdag(fdag_bin, "demo-data", "--project", str(proj), "--rows", "20000", "--days", "2",
             "--symbols", ",".join(SYMBOLS), "--seed", "3")
    run_fdag(fdag_bin, *run_args(proj, FEATURES))
    return proj


def killed_run(fdag_bin: str, project: Path, point: str, features: dict[str, str]) -> None:
    """Runs fdag run until the hook point, where it dies by SIGKILL."""
    env = dict(os.environ)
    action = "pause" if point == "run.before-commit" else "kill"
    env["FDAG_TEST_HOOK"] = f"{point}={action}"
    proc = subprocess.Popen([fdag_bin, *run_args(project, features)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if action == "pause":
        for line in proc.stderr:  # wait until it is paused between staging and commit
            if line.startswith("testhook: paused at"):
                break
        else:
            pytest.fail(f"fdag run never reached {point}: exit {proc.wait()}")
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr.read())


CHANGED = {"ret_1": "log(close) - log(lag(close, 2))", "ma_20": "rolling_mean(close, 20)"}


@pytest.mark.parametrize("point", ["shard.start", "shard.staged", "run.before-commit", "run.committed"])
def test_sigkill_leaves_before_or_after(fdag_bin: str, project: Path, point: str, tmp_path: Path):
    snap0, before = features_state(project)
    files0 = data_files(project)

    killed_run(fdag_bin, project, point, CHANGED)
    snap1, rows = features_state(project)
    if point == "run.committed":
        # the commit went through: the table is exactly what a clean run gives
        assert snap1 != snap0
        ref = tmp_path / "ref"
        run_fdag(fdag_bin, "demo-data", "--project", str(ref), "--rows", "20000", "--days", "2",
                 "--symbols", ",".join(SYMBOLS), "--seed", "3")
        run_fdag(fdag_bin, *run_args(ref, CHANGED))
        assert rows.equals(features_state(ref)[1])
    else:
        assert snap1 == snap0 and rows.equals(before), f"killed at {point}: ft_features changed"
    leftovers = data_files(project) - files0
    if point in ("shard.staged", "run.before-commit"):
        assert leftovers, f"killed at {point}: expected staged files on disk"

    # gc --dry-run names the dead run's files and removes nothing
    # (files of older snapshots are referenced still: not garbage)
    live = {p.removeprefix("file://") for p in
            catalog(project).load_table("fdag.ft_features").inspect.all_files()["file_path"].to_pylist()}
    dead = data_files(project) - live
    assert dead == (leftovers if point in ("shard.staged", "run.before-commit") else set())
    dry = run_fdag(fdag_bin, "gc", "--project", str(project), "--dry-run").stdout
    for f in dead:
        assert f in dry, f"gc --dry-run does not list {f}:\n{dry}"
    assert data_files(project) >= dead
    out = run_fdag(fdag_bin, "gc", "--project", str(project)).stdout
    assert f"removed {len(dead)} files of dead runs" in out, out
    assert not (data_files(project) & dead)
    assert features_state(project) == (snap1, rows) or features_state(project)[1].equals(rows)

    # the next run works and gives the clean result
    run_fdag(fdag_bin, *run_args(project, FEATURES))
    _, after = features_state(project)
    assert after.equals(before)


def test_next_run_removes_dead_runs_files(fdag_bin: str, project: Path):
    files0 = data_files(project)
    killed_run(fdag_bin, project, "run.before-commit", CHANGED)
    staged = data_files(project) - files0
    assert staged
    proc = run_fdag(fdag_bin, *run_args(project, FEATURES))
    assert "removed the staged files of dead runs" in proc.stderr, proc.stderr
    assert not (data_files(project) & staged)


def test_gc_keeps_a_live_runs_files(fdag_bin: str, project: Path):
    """gc while a run is paused between staging and commit removes none of
    its files; the run then commits."""
    env = dict(os.environ, FDAG_TEST_HOOK="run.before-commit=pause")
    files0 = data_files(project)
    proc = subprocess.Popen([fdag_bin, *run_args(project, CHANGED)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if line.startswith("testhook: paused at"):
                break
        staged = data_files(project) - files0
        assert staged
        out = run_fdag(fdag_bin, "gc", "--project", str(project)).stdout
        assert f"kept {len(staged)} files of live runs" in out, out
        assert data_files(project) >= staged
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)


def test_concurrent_runs_both_land(fdag_bin: str, project: Path):
    """Two runs of different features on the same table at once: both
    commit (retrying on conflict) or one fails saying why; no row is lost or
    duplicated."""
    a = {"ewm_10": "ewm_mean(close, 10)"}
    b = {"max_50": "rolling_max(close, 50)"}
    procs = [subprocess.Popen([fdag_bin, *run_args(project, f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in (a, b)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    _, rows = features_state(project)
    counts = {}
    for name in ("ret_1", "ma_20", "ewm_10", "max_50"):
        counts[name] = pc.sum(pc.equal(rows["feature_name"], name)).as_py() or 0
    assert counts["ret_1"] == counts["ma_20"] > 0
    for (code, err), name in zip(results, ("ewm_10", "max_50")):
        if code == 0:
            assert counts[name] == counts["ret_1"], (name, counts)
        else:
            assert "commit" in err and counts[name] == 0, (name, code, err)
    assert sum(code == 0 for code, _ in results) >= 1
    # (symbol, feature, timestamp, seq) identifies a narrow row: a repeated key is a duplicated row
    ident = catalog(project).load_table("fdag.ft_features").scan(
        selected_fields=("symbol", "feature_name", "timestamp", "seq")).to_arrow()
    keys = ident.group_by(["symbol", "feature_name", "timestamp", "seq"]).aggregate([([], "count_all")])
    assert keys.num_rows == ident.num_rows == rows.num_rows
