"""The process stage from the command line: `fdag bars`, then `fdag run
--source cdm_bars_time_1m` equal to `fdag compute --time-column bar_end` over
the same bars read out as a plain file; `fdag labels` over trades and bars;
`fdag run --source cdm_labels` refused."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import compute, run_fdag

FEATURES = {
    "ret_1": "log(close) - log(lag(close, 1))",
    "range": "(high - low) / open",
    "vsum_1h": "rolling_sum(volume, '1h')",
    "ma_30": "rolling_mean(close, 30)",
}


@pytest.fixture(scope="module")
def project(fdag_bin, tmp_path_factory):
    p = tmp_path_factory.mktemp("process") / "proj"
    run_fdag(fdag_bin, "demo-data", "--project", str(p), "--rows", "60000", "--days", "2")
    out = run_fdag(fdag_bin, "bars", "--project", str(p), "--kinds", "time:1m", "--symbols", "BTCUSDT,ETHUSDT",
                   "--start", "2024-01-02", "--end", "2024-01-04", "--json")
    s = json.loads(out.stdout)
    assert s["tables"][0]["table"] == "cdm_bars_time_1m" and s["tables"][0]["bars"] > 1000, s
    return p


def test_run_over_bars_equals_compute(fdag_bin, project, tmp_path):
    args = ["run", "--project", str(project), "--source", "cdm_bars_time_1m", "--symbols", "BTCUSDT",
            "--start", "2024-01-02", "--end", "2024-01-04", "--shard", "12h"]
    for name, f in FEATURES.items():
        args += ["--feature", f"{name}={f}"]
    run_fdag(fdag_bin, *args)
    bars_file = tmp_path / "bars.parquet"
    run_fdag(fdag_bin, "read", "--project", str(project), "--table", "cdm_bars_time_1m", "--symbols", "BTCUSDT",
             "--output", str(bars_file))
    want, statuses = compute(fdag_bin, bars_file, tmp_path / "wide.parquet", FEATURES, ("--time-column", "bar_end"))
    assert all(s["status"] == "success" for s in statuses.values()), statuses
    stored_file = tmp_path / "stored.parquet"
    run_fdag(fdag_bin, "read", "--project", str(project), "--table", "ft_features", "--symbols", "BTCUSDT",
             "--output", str(stored_file))
    stored = pq.read_table(stored_file)
    for name in FEATURES:
        mine = stored.filter(pc.equal(stored["feature_name"], name))
        assert mine.num_rows == want.num_rows > 1000, name
        assert mine["timestamp"].cast(pa.int64()).equals(want["bar_end"].cast(pa.int64())), name
        np.testing.assert_allclose(mine["feature_value_numeric"].to_numpy(zero_copy_only=False),
                                   want[name].to_numpy(zero_copy_only=False), rtol=1e-12, equal_nan=True, err_msg=name)


def test_labels_cli(fdag_bin, project, tmp_path):
    out = run_fdag(fdag_bin, "labels", "--project", str(project), "--methods",
                   "fixed_horizon:h=3,triple_barrier:pt=2:sl=1:vol=20:horizon=30m,meta,trend_scan,excess_median,tail_sets:q=0.5",
                   "--symbols", "BTCUSDT,ETHUSDT", "--start", "2024-01-02", "--end", "2024-01-04", "--json")
    s = json.loads(out.stdout)
    assert [p["spec"].split(":")[0] for p in s["specs"]] == [
        "fixed_horizon", "triple_barrier", "meta", "trend_scan", "excess_median", "tail_sets"]
    assert all(p["labeled"] > 0 for p in s["specs"]), s
    run_fdag(fdag_bin, "labels", "--project", str(project), "--source", "cdm_bars_time_1m", "--methods",
             "fixed_horizon", "--symbols", "BTCUSDT", "--start", "2024-01-02", "--end", "2024-01-04")
    f = tmp_path / "labels.parquet"
    run_fdag(fdag_bin, "read", "--project", str(project), "--table", "cdm_labels", "--symbols", "BTCUSDT",
             "--output", str(f))
    t = pq.read_table(f)
    assert set(t["source"].to_pylist()) == {"cdm_trade_enriched", "cdm_bars_time_1m"}
    assert set(t["method"].to_pylist()) == {"fixed_horizon", "triple_barrier", "meta", "trend_scan",
                                            "excess_median", "tail_sets"}
    # a one-symbol cross section labels nothing: said so
    proc = run_fdag(fdag_bin, "labels", "--project", str(project), "--methods", "tail_sets", "--symbols", "BTCUSDT",
                    "--start", "2024-01-02", "--end", "2024-01-03")
    assert "labelled none of its" in proc.stderr, proc.stderr
    bad = run_fdag(fdag_bin, "labels", "--project", str(project), "--methods", "triple_barrier:horizon=2d",
                   "--symbols", "BTCUSDT", "--start", "2024-01-02", "--end", "2024-01-03", check=False)
    assert bad.returncode != 0 and "more than the lookahead" in bad.stderr, bad.stderr


def test_run_over_labels_refused(fdag_bin, project):
    run_fdag(fdag_bin, "labels", "--project", str(project), "--methods", "fixed_horizon", "--symbols", "BTCUSDT",
             "--start", "2024-01-02", "--end", "2024-01-03")
    proc = run_fdag(fdag_bin, "run", "--project", str(project), "--source", "cdm_labels", "--symbols", "BTCUSDT",
                    "--start", "2024-01-02", "--end", "2024-01-03", "--feature", "x=log(ret)", check=False)
    assert proc.returncode != 0
    assert "labels look forward" in proc.stderr and "cdm_labels" in proc.stderr, proc.stderr
