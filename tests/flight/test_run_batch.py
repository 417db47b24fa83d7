"""FeatureClient.run_batch against the real server: the batch run of
``fdag run`` over DoAction run_batch, progress streamed into a bar (here a
callback), the summary returned, the rows equal to a fetch; an empty symbol
warns, and a failing request raises with the server's message."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fdag
from test_warehouse import FEATURES, make_trades  # noqa: F401  (shared fixtures' data)


@pytest.fixture(scope="module")
def served(start_server, tmp_path_factory):
    project = tmp_path_factory.mktemp("run_batch")
    server = start_server("--project", str(project), name="run_batch")
    with fdag.FeatureClient(server.location(), timeout=300) as c:
        c.ingest(make_trades())
        yield c


def test_run_batch(served):
    calls = []
    feats = {"ret_1": FEATURES["ret_1"], "ma_100": FEATURES["ma_100"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = served.run_batch(["AAA", "BBB"], "2024-01-02", "2024-01-04", feats, shard="12h", retries=1,
                             progress=lambda done, total: calls.append((done, total)))
    assert isinstance(s, fdag.RunSummary)
    assert s.committed and s.totals["shards"] == 8 and s.totals["shards_failed"] == 0, s
    assert calls and calls[-1] == (8, 8), calls
    assert s.totals["rows_out"] == 2 * s.totals["rows_in"] > 0
    assert s.shards.num_rows == 8 and set(s.shards["status"].to_pylist()) == {"ok"}
    assert {"read_s", "compute_s", "write_s", "commit_s", "wall_s"} <= set(s.timing)
    assert "committed snapshot" in repr(s)

    stored = served.read_table("ft_features", symbols="AAA", feature_names=["ma_100"]).sort_by([("timestamp", "ascending"), ("seq", "ascending")])
    fetched = served.fetch("AAA", "2024-01-02", "2024-01-04", {"ma_100": FEATURES["ma_100"]}).table
    assert stored.num_rows == fetched.num_rows
    np.testing.assert_array_equal(stored["feature_value_numeric"].to_numpy(zero_copy_only=False),
                                  fetched["ma_100"].to_numpy(zero_copy_only=False))


def test_run_batch_empty_symbol_warns(served):
    with pytest.warns(fdag.EmptyResultWarning, match="symbol NOPE has no rows"):
        s = served.run_batch(["AAA", "NOPE"], "2024-01-02", "2024-01-03", {"x": "log(close)"}, progress=False)
    assert s.committed and s.warnings
    with pytest.raises(fdag.EmptyResult):
        served.run_batch("NOPE", "2024-01-02", "2024-01-03", {"x": "log(close)"}, progress=False, on_empty="error")


def test_run_batch_errors(served):
    with pytest.raises(fdag.InvalidRequest, match="unexpected end of formula"):
        served.run_batch("AAA", "2024-01-02", "2024-01-03", {"x": "log("}, progress=False)
    with pytest.raises(fdag.NotFound, match="no_such"):
        served.run_batch("AAA", "2024-01-02", "2024-01-03", {"x": "log(close)"}, source="no_such", progress=False)
