"""max_warmup_gap through the real server and the CLI (issue 10 item 6): a
symbol quiet from 2020 to 2024 feeds its 2020 rows into the windows of a
2024 fetch unless the warmup is bounded."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

import fdag


def _quiet_symbol() -> pa.Table:
    old = datetime(2020, 3, 2, tzinfo=timezone.utc)
    start = datetime(2024, 1, 2, tzinfo=timezone.utc)
    times = [old + timedelta(minutes=i) for i in range(5)] + [start + timedelta(minutes=i) for i in range(5)]
    n = len(times)
    return pa.table({
        "symbol": ["XRPETH"] * n,
        "venue": ["binance"] * n,
        "event_time": pa.array(times, pa.timestamp("us", tz="UTC")),
        "trade_price": [float(i + 1) for i in range(n)],
        "trade_size": [1.0] * n,
        "side": ["buy"] * n,
        "trade_id": list(range(n)),
    })


@pytest.fixture(scope="module")
def quiet(start_server, tmp_path_factory):
    project = tmp_path_factory.mktemp("warmup_gap")
    server = start_server("--project", str(project), name="warmup_gap")
    with fdag.FeatureClient(server.location(), timeout=120) as c:
        c.ingest(_quiet_symbol())
        yield c, project


def test_fetch_warmup_reaches_back_unless_bounded(quiet):
    c, _ = quiet
    feats = {"prev": "lag(close, 2)"}
    full = c.fetch("XRPETH", "2024-01-02", "2024-01-03", feats).table.column("prev").to_pylist()
    assert full[:2] == [4.0, 5.0]  # the 2020 rows
    bounded = c.fetch("XRPETH", "2024-01-02", "2024-01-03", feats, max_warmup_gap="30d").table.column("prev").to_pylist()
    assert bounded[:3] == [None, None, 6.0]
    with pytest.raises(fdag.InvalidRequest, match="max_warmup_gap"):
        c.fetch("XRPETH", "2024-01-02", "2024-01-03", feats, max_warmup_gap="30 days")


def test_fdag_run_max_warmup_gap(quiet, fdag_bin):
    _, project = quiet
    args = [fdag_bin, "run", "--project", str(project), "--symbols", "XRPETH", "--start", "2024-01-02",
            "--end", "2024-01-03", "--feature", "prev=lag(close, 2)", "--json"]
    full = json.loads(subprocess.run(args, check=True, capture_output=True, text=True, timeout=120).stdout)
    bounded = json.loads(subprocess.run(args + ["--max-warmup-gap", "720h"], check=True, capture_output=True,
                                        text=True, timeout=120).stdout)
    assert full["totals"]["warmup_rows"] == 2 and bounded["totals"]["warmup_rows"] == 0, (full["totals"], bounded["totals"])
