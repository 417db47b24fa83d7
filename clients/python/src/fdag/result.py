"""The result of :meth:`fdag.FeatureClient.compute`."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

import pyarrow as pa

__all__ = ["FeatureStatus", "ComputeResult", "parse_statuses", "METADATA_KEY"]

#: Schema metadata key holding the per-feature statuses (JSON list).
METADATA_KEY = b"fdag.features"


def count(n: int, noun: str) -> str:
    """``n`` with its noun, singular for one: "1 row", "2,048 rows"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


@dataclass(frozen=True)
class FeatureStatus:
    """The outcome of one requested feature.

    ``status`` is ``"success"`` or ``"error"``; ``error`` holds the server's
    message for a failed feature (empty otherwise).
    """

    name: str
    status: str
    error: str = ""

    @property
    def ok(self) -> bool:
        """True when the feature was computed."""
        return self.status == "success"

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "FeatureStatus":
        return cls(
            name=str(obj.get("name", "")),
            status=str(obj.get("status", "")),
            error=str(obj.get("error") or ""),
        )


def parse_statuses(raw: Any) -> List[FeatureStatus]:
    """Parse the statuses from JSON text/bytes or an already decoded list."""
    if raw is None:
        return []
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw).decode("utf-8")
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else []
    return [FeatureStatus.from_json(o) for o in raw or []]


@dataclass
class ComputeResult:
    """Features computed by the server, aligned row for row with the input.

    Attributes:
        table: the wide output: time column, symbol column (when the input has
            one) and one float64 column per successful feature, in request order.
        statuses: one :class:`FeatureStatus` per requested feature, in request order.
        rows_in: rows the server received (from its final message; None if absent).
        rows_out: rows the server sent back.
        elapsed: seconds spent in the call, sending and receiving included.
    """

    table: pa.Table
    statuses: List[FeatureStatus]
    rows_in: Optional[int] = None
    rows_out: Optional[int] = None
    elapsed: Optional[float] = None
    server_metadata: Dict[str, Any] = field(default_factory=dict, repr=False)
    #: the input pandas frame's index (restored by :meth:`to_pandas`), or None
    index: Any = field(default=None, repr=False)

    # -- status helpers -------------------------------------------------
    @property
    def errors(self) -> Dict[str, str]:
        """Failed features: name -> the server's error message."""
        return {s.name: s.error for s in self.statuses if not s.ok}

    @property
    def ok(self) -> bool:
        """True when every requested feature succeeded."""
        return all(s.ok for s in self.statuses)

    @property
    def features(self) -> List[str]:
        """Names of the features that were computed (the float64 columns)."""
        return [s.name for s in self.statuses if s.ok]

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, key: str) -> pa.ChunkedArray:
        """A column of the result table by name."""
        return self.table[key]

    def raise_for_errors(self) -> "ComputeResult":
        """Raise :class:`fdag.InvalidRequest` listing failed features, if any; else return self."""
        if not self.ok:
            from .errors import InvalidRequest

            lines = [f"{n}: {e}" for n, e in self.errors.items()]
            raise InvalidRequest(
                f"{len(lines)} of {len(self.statuses)} features failed:\n" + "\n".join(lines)
            )
        return self

    # -- conversions ------------------------------------------------------
    def to_pandas(self, **kwargs: Any):
        """The table as a pandas DataFrame (requires pandas), with the input
        frame's index when the input was a pandas frame."""
        from .frames import pandas_with_index

        return pandas_with_index(self.table, self.index, **kwargs)

    def to_polars(self):
        """The table as a polars DataFrame (requires polars)."""
        import polars as pl

        return pl.from_arrow(self.table)

    def plot(self, features: Any = None, **kwargs: Any) -> Any:
        """Plot features against time with matplotlib (optional dependency):
        ``result.plot(["vol", "z"], price=trades["trade_price"], symbol="BTCUSDT")``.
        See :func:`fdag.plot.plot_result` for the arguments; returns the Axes."""
        from .plot import plot_result

        return plot_result(self, features, **kwargs)

    # -- display --------------------------------------------------------
    def _summary_lines(self) -> List[str]:
        n_ok = sum(1 for s in self.statuses if s.ok)
        n_bad = len(self.statuses) - n_ok
        head = f"ComputeResult: {count(self.table.num_rows, 'row')}, {count(n_ok, 'feature')} ok"
        if n_bad:
            head += f", {n_bad} failed"
        if self.elapsed is not None:
            head += f" ({self.elapsed:.3f}s)"
        lines = [head]
        ok_names = [s.name for s in self.statuses if s.ok]
        if ok_names:
            shown = ", ".join(ok_names[:12]) + (", ..." if len(ok_names) > 12 else "")
            lines.append(f"  ok: {shown}")
        for s in self.statuses:
            if not s.ok:
                lines.append(f"  FAILED {s.name}: {s.error}")
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._summary_lines())

    def _repr_html_(self) -> str:
        n_ok = sum(1 for s in self.statuses if s.ok)
        n_bad = len(self.statuses) - n_ok
        parts = [
            "<div class='fdag-result'>",
            f"<b>ComputeResult</b>: {count(self.table.num_rows, 'row')}, {count(n_ok, 'feature')} ok"
            + (f", <span style='color:#b00'>{n_bad} failed</span>" if n_bad else "")
            + (f" ({self.elapsed:.3f}s)" if self.elapsed is not None else ""),
        ]
        if n_bad:
            parts.append("<table><tr><th>feature</th><th>error</th></tr>")
            for s in self.statuses:
                if not s.ok:
                    parts.append(
                        f"<tr><td><code>{html.escape(s.name)}</code></td>"
                        f"<td style='text-align:left'>{html.escape(s.error)}</td></tr>"
                    )
            parts.append("</table>")
        preview = _preview_html(self.table)
        if preview:
            parts.append(preview)
        parts.append("</div>")
        return "".join(parts)


def _preview_html(table: pa.Table, rows: int = 5) -> str:
    try:
        head = table.slice(0, rows).to_pylist()
    except Exception:  # pragma: no cover - display must never fail
        return ""
    cols: Sequence[str] = table.column_names
    out = ["<table><tr>"]
    out += [f"<th>{html.escape(c)}</th>" for c in cols]
    out.append("</tr>")
    for row in head:
        out.append("<tr>")
        for c in cols:
            v = row[c]
            if isinstance(v, float):
                txt = f"{v:.6g}"
            else:
                txt = "null" if v is None else str(v)
            out.append(f"<td>{html.escape(txt)}</td>")
        out.append("</tr>")
    if table.num_rows > rows:
        out.append(f"<tr><td colspan={len(cols)}>… {table.num_rows - rows:,} more rows</td></tr>")
    out.append("</table>")
    return "".join(out)
