"""The summary of a batch run, as ``fdag run --json`` and ``fdag commit --json``
print it (Go's ``batch.Summary``): per shard rows in, rows out, features ok
and failed, retries and seconds; totals; the time split; what was committed;
warnings (a symbol or range without source rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping

__all__ = ["RunSummary"]


@dataclass(frozen=True)
class RunSummary:
    """A run's summary. ``raw`` is the whole JSON document; the common
    figures are attributes and :meth:`shards_table` gives one row per shard."""

    run_id: str
    committed: bool
    snapshot_id: int
    files: int
    rows_in: int
    rows_out: int
    shards: int
    shards_failed: int
    retries: int
    wall_s: float
    warnings: List[str] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "RunSummary":
        totals = doc.get("totals") or {}
        timing = doc.get("timing") or {}
        return cls(
            run_id=str(doc.get("run", "")),
            committed=bool(doc.get("committed", False)),
            snapshot_id=int(doc.get("snapshot_id") or 0),
            files=int(doc.get("files") or 0),
            rows_in=int(totals.get("rows_in") or 0),
            rows_out=int(totals.get("rows_out") or 0),
            shards=int(totals.get("shards") or 0),
            shards_failed=int(totals.get("shards_failed") or 0),
            retries=int(totals.get("retries") or 0),
            wall_s=float(timing.get("wall_s") or 0.0),
            warnings=list(doc.get("warnings") or []),
            raw=dict(doc),
        )

    @property
    def timing(self) -> Dict[str, float]:
        """Seconds: read, compute, write (summed over shards), commit, wall."""
        return {k.removesuffix("_s"): float(v) for k, v in (self.raw.get("timing") or {}).items()}

    @property
    def shards_per_second(self) -> float:
        return self.shards / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def rows_per_second(self) -> float:
        """Narrow (ft_features) rows written per second of wall time."""
        return self.rows_out / self.wall_s if self.wall_s > 0 else float("nan")

    def shards_table(self) -> List[Dict[str, Any]]:
        """One dict per shard (symbol, start, end, status, rows_in, rows_out, retries, seconds, ...)."""
        return [dict(s) for s in self.raw.get("shards") or []]

    def __str__(self) -> str:
        state = (f"committed {self.rows_out:,} ft_features rows in {self.files} files, snapshot {self.snapshot_id}"
                 if self.committed else "nothing committed")
        return (f"run {self.run_id}: {self.shards} shards ({self.shards_failed} failed, {self.retries} retries), "
                f"{self.rows_in:,} source rows; {state}; wall {self.wall_s:.2f}s "
                f"({self.shards_per_second:.2f} shards/s, {self.rows_per_second:,.0f} narrow rows/s)"
                + "".join(f"\nwarning: {w}" for w in self.warnings))

    def _repr_html_(self) -> str:
        import html

        cols = ["symbol", "start", "end", "status", "rows_in", "rows_out", "features_ok", "features_failed", "retries", "seconds"]
        head = "".join(f"<th>{c}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(s.get(c, '')))}</td>" for c in cols) + "</tr>"
                       for s in self.shards_table())
        return f"<p>{html.escape(str(self)).replace(chr(10), '<br>')}</p><table><tr>{head}</tr>{body}</table>"
