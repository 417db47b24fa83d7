"""fdag read and its summaries say what they did (issue 10, items 4 and 5):
an empty or partly empty read warns naming the table and symbol
(--fail-empty makes it an error and writes nothing), --where on a non-string
column is refused clearly, counts say "1 row"."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import run_fdag


@pytest.fixture(scope="module")
def project(fdag_bin, tmp_path_factory) -> Path:
    proj = tmp_path_factory.mktemp("readproj")
    run_fdag(fdag_bin, "demo-data", "--project", str(proj), "--rows", "2000", "--days", "1")
    return proj


def read(fdag_bin, project, *args, check=True):
    return run_fdag(fdag_bin, "read", "--project", str(project), "--table", "cdm_trade_enriched", *args, check=check)


def test_unknown_symbol_warns_naming_it(fdag_bin, project, tmp_path):
    out = tmp_path / "r.parquet"
    res = read(fdag_bin, project, "--symbols", "BTCUSDT,NOPEUSDT", "--output", str(out))
    assert "warning: cdm_trade_enriched: no rows for symbol NOPEUSDT" in res.stderr
    assert pq.read_table(out).num_rows > 0


def test_fail_empty_is_an_error_and_writes_nothing(fdag_bin, project, tmp_path):
    out = tmp_path / "r.parquet"
    res = read(fdag_bin, project, "--symbols", "NOPEUSDT", "--fail-empty", "--output", str(out), check=False)
    assert res.returncode == 1
    assert "cdm_trade_enriched: no rows match --symbols NOPEUSDT" in res.stderr
    assert res.stderr.count("no rows match") == 1, res.stderr  # said once
    assert not out.exists()


def test_where_on_a_number_is_refused(fdag_bin, project, tmp_path):
    res = read(fdag_bin, project, "--where", "trade_id=5", "--output", str(tmp_path / "r.csv"), check=False)
    assert res.returncode == 2
    assert "--where trade_id: column trade_id is long; --where filters string columns" in res.stderr
    res = read(fdag_bin, project, "--where", "sidee=buy", "--output", str(tmp_path / "r.csv"), check=False)
    assert 'has no column "sidee"' in res.stderr and "side" in res.stderr


def test_one_row_is_singular(fdag_bin, project, tmp_path):
    full = tmp_path / "all.parquet"
    read(fdag_bin, project, "--output", str(full))
    first = pq.read_table(full).slice(0, 1)
    t = first["event_time"][0].as_py()
    res = read(fdag_bin, project, "--symbols", first["symbol"][0].as_py(), "--start", t.isoformat(),
               "--end", (t.replace(microsecond=t.microsecond + 1) if t.microsecond < 999999 else t).isoformat(),
               "--output", str(tmp_path / "one.csv"))
    assert "fdag read: 1 row of cdm_trade_enriched" in res.stderr, res.stderr


def test_project_typo_creates_nothing(fdag_bin, tmp_path):
    typo = tmp_path / "projcet"
    res = run_fdag(fdag_bin, "read", "--project", str(typo), "--list", check=False)
    assert res.returncode == 2 and "no such project directory" in res.stderr
    assert res.stderr.count("no such project directory") == 1  # the error is printed once
    assert not typo.exists()
