"""``FeatureClient.run_batch``: the server's batch run (``fdag run``) over
Flight DoAction ``run_batch``, its progress shown as it streams in."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.flight as flight

from .errors import ProtocolError, from_flight_error
from .notices import check_on_empty, report_empty
from .progress import ProgressLike, progress_bar
from .specs import FeaturesLike, normalize_features
from .warehouse import TimeLike, iso_time, symbols_list

SHARD_COLUMNS = ("symbol", "start", "end", "status", "rows_in", "warmup_rows", "rows_out",
                 "features_ok", "features_failed", "retries", "seconds", "error")


@dataclass
class RunSummary:
    """What a batch run did (the server's batch.Summary)."""

    committed: bool
    run: str
    totals: Dict[str, Any]
    timing: Dict[str, float]
    warnings: List[str]
    features: List[Dict[str, Any]]
    snapshot_id: Optional[int]
    raw: Dict[str, Any] = field(repr=False)

    @property
    def shards(self) -> pa.Table:
        """One row per shard: symbol, range, status, rows in/out, features ok/failed, retries, seconds."""
        rows = self.raw.get("shards") or []
        return pa.table({c: [r.get(c) for r in rows] for c in SHARD_COLUMNS})

    @property
    def failed_features(self) -> Dict[str, str]:
        return {f["name"]: f.get("error", "") for f in self.features if f.get("status") != "success"}

    def __repr__(self) -> str:
        t, tm = self.totals, self.timing
        state = f"committed snapshot {self.snapshot_id}" if self.committed else "nothing committed"
        wall = tm.get("wall_s") or 0.0
        rate = f", {t.get('rows_out', 0) / wall:,.0f} narrow rows/s" if wall else ""
        return (f"RunSummary({state}: {t.get('shards')} shards ({t.get('shards_failed')} failed, "
                f"{t.get('retries')} retries), {t.get('rows_in')} rows in, {t.get('rows_out')} narrow rows out, "
                f"features {t.get('features_ok')} ok / {t.get('features_failed')} failed; "
                f"read {tm.get('read_s', 0):.2f}s compute {tm.get('compute_s', 0):.2f}s write {tm.get('write_s', 0):.2f}s "
                f"commit {tm.get('commit_s', 0):.2f}s wall {wall:.2f}s{rate}; {len(self.warnings)} warnings)")


def run_batch(
    client: Any,
    symbols: Union[str, Sequence[str]],
    start: TimeLike,
    end: TimeLike,
    features: FeaturesLike,
    *,
    source: str = "cdm_trade_enriched",
    shard: Optional[str] = None,
    aliases: Optional[Mapping[str, str]] = None,
    max_warmup_gap: Optional[str] = None,
    concurrency: Optional[int] = None,
    retries: int = 0,
    commit_partial: bool = False,
    on_empty: str = "warn",
    timeout: Optional[float] = None,
    progress: ProgressLike = None,
) -> RunSummary:
    check_on_empty(on_empty)
    body: Dict[str, Any] = {
        "features": normalize_features(features),
        "symbols": symbols_list(symbols),
        "start": iso_time(start, "start"),
        "end": iso_time(end, "end"),
        "source": source,
        "retries": retries,
        "commit_partial": commit_partial,
    }
    if shard:
        body["shard"] = shard
    if aliases:
        body["aliases"] = dict(aliases)
    if concurrency:
        body["concurrency"] = concurrency
    if max_warmup_gap:
        body["max_warmup_gap"] = max_warmup_gap
    summary: Optional[Dict[str, Any]] = None
    action = flight.Action("run_batch", json.dumps(body).encode("utf-8"))
    with progress_bar(progress, desc="run_batch", unit="shard") as bar:
        try:
            for res in client._client.do_action(action, client._options(timeout)):
                msg = json.loads(res.body.to_pybytes())
                if msg.get("type") == "progress":
                    if bar.total is None:
                        bar.set_total(msg.get("shards_total"))
                    if msg.get("shards_done", 0) > bar.done:
                        bar.update(msg["shards_done"] - bar.done)
                    if msg.get("phase") != "shards":
                        bar.set_description(f"run_batch: {msg.get('phase')}")
                elif msg.get("type") == "summary":
                    summary = msg.get("summary") or {}
        except json.JSONDecodeError as e:
            raise ProtocolError(f"run_batch: a result is not JSON: {e}") from e
        except Exception as e:  # pyarrow's Flight errors (ArrowInvalid is a ValueError)
            raise from_flight_error(e) from e
    if summary is None:
        raise ProtocolError("run_batch: the server sent no summary")
    for w in summary.get("warnings") or []:
        report_empty(f"run_batch: {w}", on_empty, stacklevel=3)
    return RunSummary(
        committed=bool(summary.get("committed")),
        run=str(summary.get("run", "")),
        totals=dict(summary.get("totals") or {}),
        timing=dict(summary.get("timing") or {}),
        warnings=list(summary.get("warnings") or []),
        features=list(summary.get("features") or []),
        snapshot_id=summary.get("snapshot_id"),
        raw=summary,
    )
