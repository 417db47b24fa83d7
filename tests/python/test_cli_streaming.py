"""`fdag compute` streams time-ordered input (computing and writing batch by
batch) and computes unordered input in one go: both give the same file."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from conftest import compute, run_fdag

FEATURES = {
    "ret_1": "log(close) - log(lag(close, 1))",
    "ma_200": "rolling_mean(close, 200)",
    "std_1m": "rolling_std(close, '1m')",
    "hi_5m": "rolling_max(close, '5m')",
    "ewm_50": "ewm_mean(close, 50)",
    "dacc": "decay_accum(volume, '30s')",
    "corr_100": "rolling_corr(close, volume, 100)",
}


def test_streamed_and_one_go_outputs_are_the_same(fdag_bin, tmp_path):
    # 300k rows: several 64k-row batches, so the streamed path carries
    # state across batches; ties in time within symbols.
    src = tmp_path / "trades.parquet"
    run_fdag(fdag_bin, "demo-data", "--out", str(tmp_path), "--rows", "300000", "--seed", "9")
    (tmp_path / "demo.parquet").rename(src)
    ordered = pq.read_table(src)
    # Unordered input: the later half first. The split falls between two
    # timestamps, so rows sharing a time keep their relative order (which
    # decides lags and windows among ties) once fdag sorts by time.
    t = ordered["event_time"].cast(pa.int64()).to_numpy()
    half = int(np.argmax((np.arange(len(t)) >= len(t) // 2) & (np.r_[True, t[1:] != t[:-1]])))
    perm = np.r_[np.arange(half, len(t)), np.arange(half)]
    shuffled_src = tmp_path / "shuffled.parquet"
    pq.write_table(ordered.take(pa.array(perm)), shuffled_src)

    streamed, st1 = compute(fdag_bin, src, tmp_path / "a.parquet", FEATURES)
    one_go, st2 = compute(fdag_bin, shuffled_src, tmp_path / "b.parquet", FEATURES)
    assert st1 == st2 and all(s["status"] == "success" for s in st1.values())
    assert streamed.schema.equals(one_go.schema, check_metadata=True)
    # The shuffled output is aligned with the shuffled input: undo it.
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    assert streamed.equals(one_go.take(pa.array(inverse)))

    log = run_fdag(fdag_bin, "compute", "--input", str(src), "--output", str(tmp_path / "c.csv"),
                   "--feature", "m=" + FEATURES["ma_200"]).stderr
    assert "streamed" in log, log
    # Streamed, reading, computing and writing overlap: one time, not a split.
    assert re.search(r"\(read, compute and write streamed: [0-9.]+m?s\)", log), log
    log = run_fdag(fdag_bin, "compute", "--input", str(shuffled_src), "--output", str(tmp_path / "d.csv"),
                   "--feature", "m=" + FEATURES["ma_200"]).stderr
    assert "in one go" in log, log
    assert re.search(r"\(read [0-9.]+m?s, compute and write in one go [0-9.]+m?s, total [0-9.]+m?s\)", log), log
