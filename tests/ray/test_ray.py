"""Distributed batch runs on a real local Ray cluster (fdag.ray.run_batch_ray)
over a real S3 server on loopback, checked against the sequential `fdag run`
of the same request: the same ft_features rows and values, whatever Ray did
(a worker killed mid-run, a shard failing after its retries, two runs at
once, a run committed twice)."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import END, FEATURES, LOOPBACK_HEX, START, SYMBOLS, listening_addresses, run_fdag, write_project

import fdag.ray as fray

ROWS = 20_000  # 4 symbols x 5 days: 1,000 trades a symbol a day
KEY = ["symbol", "feature_name", "timestamp", "seq", "feature_value_numeric"]
# The failure cases run over 2 symbols x 2 days (4 shards) to keep the suite
# short; their rows are compared with the whole sequential table, which they
# replace in part with the same values.
SMALL = {"symbols": ["BTCUSDT", "ETHUSDT"], "end": "2024-01-04"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, s3, ray_cluster, fdag_bin) -> Path:
    """Demo trades of 4 symbols over 5 days in an S3 warehouse."""
    proj = write_project(tmp_path_factory.mktemp("proj"), s3, "fdag-ray")
    run_fdag(fdag_bin, "demo-data", "--project", str(proj), "--rows", str(ROWS), "--days", "5",
             "--symbols", ",".join(SYMBOLS), "--seed", "3")
    return proj


def read_features(fdag_bin: str, project: Path, out: Path) -> pa.Table:
    run_fdag(fdag_bin, "read", "--project", str(project), "--table", "ft_features", "--output", str(out))
    t = pq.read_table(out).drop_columns(["processed_time"])
    return t.sort_by([(k, "ascending") for k in KEY])


def features_table(project: Path):
    """ft_features through pyiceberg's SqlCatalog over the same SQLite file and S3 bucket."""
    import os

    from pyiceberg.catalog.sql import SqlCatalog

    endpoint = (project / "fdag.yaml").read_text().split("endpoint: ")[1].split()[0]
    cat = SqlCatalog("fdag", uri=f"sqlite:///{project / '.fdag' / 'catalog.db'}", **{
        "s3.endpoint": endpoint, "s3.access-key-id": os.environ["FDAG_S3_KEY"],
        "s3.secret-access-key": os.environ["FDAG_S3_SECRET"], "s3.region": "us-east-1"})
    return cat.load_table("fdag.ft_features")


def snapshot_id(project: Path) -> int:
    return features_table(project).current_snapshot().snapshot_id


@pytest.fixture(scope="module")
def sequential(project, fdag_bin, tmp_path_factory) -> dict:
    """The sequential run's table and summary: the reference."""
    proc = run_fdag(fdag_bin, "run", "--project", str(project), "--features", str(FEATURES),
                    "--symbols", ",".join(SYMBOLS), "--start", START, "--end", END, "--json")
    summary = json.loads(proc.stdout)
    table = read_features(fdag_bin, project, tmp_path_factory.mktemp("seq") / "ft.parquet")
    assert table.num_rows == summary["totals"]["rows_out"] > 0
    return {"summary": summary, "table": table}


def assert_same_rows(got: pa.Table, want: pa.Table) -> None:
    assert got.num_rows == want.num_rows, f"{got.num_rows} rows, want {want.num_rows}"
    assert got.schema.names == want.schema.names
    for name in want.schema.names:
        g, w = got.column(name), want.column(name)
        if pa.types.is_floating(w.type):
            # value for value: null where null, NaN where NaN, equal elsewhere
            assert pc.is_null(g).equals(pc.is_null(w)), f"column {name}: nulls differ"
            same = pc.or_(pc.equal(g, w), pc.and_(pc.is_nan(g), pc.is_nan(w)))
            assert pc.all(pc.fill_null(same, True)).as_py(), f"column {name}: values differ"
        else:
            assert g.equals(w), f"column {name} differs"


def live_files(project: Path) -> set[str]:
    """Every data file any snapshot of ft_features references."""
    return {p.split("/warehouse/", 1)[1] for p in features_table(project).inspect.all_files().column("file_path").to_pylist()}


def stored_files(s3: dict, bucket: str) -> set[str]:
    """The ft_features Parquet files in the bucket (versitygw's posix backend keeps objects as files)."""
    root = s3["root"] / bucket / "warehouse"
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet") if "ft_features" in p.relative_to(root).parts[1]}


def run_of_file(path: str) -> str:
    """The run id a staged file's name carries (catalog.RunOfFile)."""
    parts = Path(path).name.split("-")
    return uuid.UUID("-".join(parts[2:7])).hex[:16]


def ray_run(project: Path, fdag_bin: str, **kw) -> fray.RunSummary:
    args = dict(features=str(FEATURES), symbols=SYMBOLS, start=START, end=END, shard="1d", concurrency=2,
                project=project, fdag_bin=fdag_bin, progress=False)
    args.update(kw)
    return fray.run_batch_ray(**args)


def test_cluster_listens_on_loopback_only(ray_cluster):
    import os

    import ray

    @ray.remote
    def pid() -> int:
        return os.getpid()

    ray.get([pid.remote() for _ in range(2)])  # workers are up
    addrs = listening_addresses(os.getpid())
    assert addrs, "found no listening socket of the Ray cluster"
    wide = [a for a in addrs if not a.startswith(LOOPBACK_HEX)]
    assert not wide, f"Ray listens beyond loopback: {wide} of {addrs}"


def test_ray_run_equals_sequential(project, fdag_bin, sequential, tmp_path):
    s = ray_run(project, fdag_bin)
    seq = sequential["summary"]
    assert s.committed and s.shards == 20 and s.shards_failed == 0 and s.retries == 0
    assert s.rows_out == seq["totals"]["rows_out"] and s.rows_in == seq["totals"]["rows_in"]
    assert [x["rows_out"] for x in s.shards_table()] == [x["rows_out"] for x in seq["shards"]]
    assert_same_rows(read_features(fdag_bin, project, tmp_path / "ft.parquet"), sequential["table"])
    print(f"\nsequential: {seq['totals']['shards'] / seq['timing']['wall_s']:.2f} shards/s, "
          f"{seq['totals']['rows_out'] / seq['timing']['wall_s']:,.0f} narrow rows/s; ray (2 workers): "
          f"{s.shards_per_second:.2f} shards/s, {s.rows_per_second:,.0f} narrow rows/s")


def test_killed_worker_is_retried(project, fdag_bin, sequential, s3, tmp_path):
    # Shards 1 and 2: the worker dies while fdag shard runs; shard 3: after
    # fdag shard staged its files, before the driver hears of them.
    env = {"env_vars": {"FDAG_RAY_TEST_KILL": "1,2", "FDAG_RAY_TEST_KILL_STAGED": "3"}}
    s = ray_run(project, fdag_bin, max_retries=2, task_options={"runtime_env": env}, **SMALL)
    assert s.committed and s.shards == 4 and s.shards_failed == 0
    retried = {x["index"]: x["retries"] for x in s.shards_table() if x["retries"]}
    assert retried == {1: 1, 2: 1, 3: 1}, retried
    assert s.retries == 3
    orphans = stored_files(s3, "fdag-ray") - live_files(project)
    assert not orphans, f"the killed attempt's staged files are left: {sorted(orphans)[:3]}"
    leases = list((s3["root"] / "fdag-ray").rglob("fdag-runs/*.json"))
    assert not leases, f"run leases left after the run: {leases}"
    assert_same_rows(read_features(fdag_bin, project, tmp_path / "ft.parquet"), sequential["table"])


def test_failed_run_commits_nothing_and_leaves_no_files(project, fdag_bin, sequential, s3, tmp_path):
    before = snapshot_id(project)
    # The shard ETHUSDT 2024-01-03 stages its files, then fails, on every attempt.
    env = {"env_vars": {"FDAG_TEST_HOOK": "shard.staged@ETHUSDT [2024-01-03=fail"}}
    with pytest.raises(fray.RunFailed) as err:
        ray_run(project, fdag_bin, max_retries=1, task_options={"runtime_env": env}, **SMALL)
    msg = str(err.value)
    assert "ETHUSDT [2024-01-03" in msg and "nothing committed" in msg, msg
    assert err.value.summary is not None and not err.value.summary.committed
    assert snapshot_id(project) == before
    assert_same_rows(read_features(fdag_bin, project, tmp_path / "ft.parquet"), sequential["table"])
    orphans = stored_files(s3, "fdag-ray") - live_files(project)
    assert not orphans, f"{len(orphans)} files no snapshot references, e.g. {sorted(orphans)[:3]}"


def test_two_runs_at_once_end_with_one_runs_rows(project, fdag_bin, sequential, tmp_path):
    out: dict = {}

    def go(name: str) -> None:
        try:
            out[name] = ray_run(project, fdag_bin, concurrency=1, **SMALL)
        except Exception as e:  # a clear failure of one run is allowed
            out[name] = e

    threads = [threading.Thread(target=go, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = {n: r.run_id for n, r in out.items() if isinstance(r, fray.RunSummary)}
    assert runs, f"both runs failed: {out}"
    for r in out.values():
        if not isinstance(r, fray.RunSummary):
            assert isinstance(r, fray.RunFailed) and "commit" in str(r), r
    table = read_features(fdag_bin, project, tmp_path / "ft.parquet")
    assert_same_rows(table, sequential["table"])
    # every row is in files of one run, not of both
    both = {r.run_id for r in out.values()}
    assert len(both) == 2
    writers = {run_of_file(f) for f in current_files(project)} & both
    assert len(writers) == 1 and writers <= set(runs.values()), (writers, runs)


def current_files(project: Path) -> list[str]:
    """The data files of ft_features' current snapshot."""
    return features_table(project).inspect.files().column("file_path").to_pylist()


def test_committing_a_run_twice_adds_its_rows_once(project, fdag_bin, sequential, s3, tmp_path):
    rid = "00c0ffee00c0ffee"
    first = ray_run(project, fdag_bin, symbols=["SOLUSDT"], end="2024-01-04", run_id=rid)
    assert first.committed and first.run_id == rid and not first.warnings
    again = ray_run(project, fdag_bin, symbols=["SOLUSDT"], end="2024-01-04", run_id=rid)
    assert again.committed and any("already committed" in w for w in again.warnings), again.warnings
    assert again.snapshot_id == first.snapshot_id
    assert_same_rows(read_features(fdag_bin, project, tmp_path / "ft.parquet"), sequential["table"])
    orphans = stored_files(s3, "fdag-ray") - live_files(project)
    assert not orphans, f"the second run's files were not removed: {sorted(orphans)[:3]}"


def test_plan_carries_max_warmup_gap(project, fdag_bin):
    """run_batch_ray's max_warmup_gap reaches the plan every worker's shard
    config is cut from (as fdag run --max-warmup-gap and client.run_batch)."""
    plan = fray._plan(fdag_bin, str(FEATURES), SYMBOLS[:1], START, END, "24h", str(project), None, None, None,
                      max_warmup_gap="30d")
    assert plan["max_warmup_gap_ns"] == 30 * 24 * 3600 * 10**9, plan.get("max_warmup_gap_ns")
    assert "max_warmup_gap_ns" not in fray._plan(fdag_bin, str(FEATURES), SYMBOLS[:1], START, END, "24h",
                                                 str(project), None, None, None)
