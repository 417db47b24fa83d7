"""Results that are probably a mistake: said, never silent.

An unknown symbol, a range with no data, filters that match nothing: the
call still returns (an empty table is a valid answer), but it warns with an
:class:`EmptyResultWarning` naming what matched nothing and where. Pass
``on_empty="error"`` to raise :class:`EmptyResult` instead, or
``on_empty="ignore"`` when empty is expected. The standard ``warnings``
filters apply too (``warnings.simplefilter("error", fdag.EmptyResultWarning)``).
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence

import pyarrow as pa

from .errors import FdagError

__all__ = ["FdagWarning", "EmptyResultWarning", "EmptyResult", "ON_EMPTY", "report_empty", "missing_values"]

#: The accepted values of ``on_empty``.
ON_EMPTY = ("warn", "error", "ignore")


class FdagWarning(UserWarning):
    """Base class of the client's warnings."""


class EmptyResultWarning(FdagWarning):
    """A read or fetch matched no rows, or none for some of the symbols or
    features asked for."""


class EmptyResult(FdagError, LookupError):
    """Raised instead of :class:`EmptyResultWarning` with ``on_empty="error"``."""

    code = "empty"


def check_on_empty(on_empty: str) -> None:
    if on_empty not in ON_EMPTY:
        raise ValueError(f"on_empty must be one of {', '.join(map(repr, ON_EMPTY))}, got {on_empty!r}")


def report_empty(message: str, on_empty: str, stacklevel: int = 3) -> None:
    """Warn, raise or stay quiet about an empty result, as ``on_empty`` says."""
    check_on_empty(on_empty)
    if on_empty == "error":
        raise EmptyResult(message)
    if on_empty == "warn":
        warnings.warn(message, EmptyResultWarning, stacklevel=stacklevel + 1)


def missing_values(table: pa.Table, column: str, wanted: Optional[Iterable[Any]]) -> List[Any]:
    """The values of ``wanted`` that ``table[column]`` never holds."""
    if wanted is None or column not in table.column_names:
        return []
    present = set(table.column(column).unique().to_pylist()) if table.num_rows else set()
    return [w for w in wanted if w not in present]


def describe_filter(flt: Dict[str, Any]) -> str:
    """``symbols=['X'], start=..., feature_names=[...]`` for a message."""
    parts = [f"{k}={v!r}" for k, v in flt.items() if v not in (None, [], {})]
    return ", ".join(parts) if parts else "no filter"


def check_read(table_name: str, flt: Dict[str, Any], result: pa.Table, on_empty: str,
               symbols: Optional[Sequence[str]] = None, features: Optional[Sequence[str]] = None,
               stacklevel: int = 4) -> None:
    """Say so when a read of ``table_name`` matched nothing, or nothing for
    some of the ``symbols`` or ``features`` asked for."""
    if on_empty == "ignore":
        return
    if result.num_rows == 0:
        report_empty(f"{table_name}: no rows match {describe_filter(flt)}", on_empty, stacklevel)
        return
    lost = missing_values(result, "symbol", symbols)
    if lost:
        report_empty(f"{table_name}: no rows for symbol{'s' if len(lost) > 1 else ''} "
                     f"{', '.join(map(str, lost))} ({describe_filter(flt)})", on_empty, stacklevel)
    lost = missing_values(result, "feature_name", features) if "feature_name" in result.column_names else []
    if lost:
        report_empty(f"{table_name}: no rows for feature{'s' if len(lost) > 1 else ''} "
                     f"{', '.join(map(str, lost))} ({describe_filter(flt)})", on_empty, stacklevel)


def report_notices(notices: Sequence[Dict[str, Any]], on_empty: str, start: str, end: str,
                   stacklevel: int = 3) -> None:
    """Warn (or raise, as ``on_empty`` says) once per (table, symbols) for
    the server's in-band ``empty`` notices of a fetch over [start, end):
    the endpoints of one symbol that found nothing are merged, so an
    unknown symbol over five days is one warning, not five."""
    if on_empty == "ignore":
        return
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for n in notices:
        if n.get("kind") != "empty":
            continue
        key = (n.get("table", "?"), tuple(n.get("symbols") or ()))
        groups.setdefault(key, []).append(n)
    for (table, symbols), ns in groups.items():
        if len(ns) == 1 and ns[0].get("message"):
            report_empty(str(ns[0]["message"]), on_empty, stacklevel)
            continue
        what = (f"symbol{'s' if len(symbols) > 1 else ''} {', '.join(symbols)}") if symbols else "any symbol"
        ranges = sorted((str(n.get("start", "")), str(n.get("end", ""))) for n in ns)
        spans: List[List[str]] = []
        for a, b in ranges:  # contiguous shards as one span (ISO UTC times order as text)
            if spans and a <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], b)
            else:
                spans.append([a, b])
        if len(spans) == 1 and iso_key(spans[0][0]) <= iso_key(start) and iso_key(spans[0][1]) >= iso_key(end):
            report_empty(f"{table}: no source rows for {what} in [{start}, {end})", on_empty, stacklevel)
        else:
            shown = ", ".join(f"[{a}, {b})" for a, b in spans[:3]) + (", ..." if len(spans) > 3 else "")
            report_empty(f"{table}: no source rows for {what} in {shown} ({len(ns)} of the fetch's shards)",
                         on_empty, stacklevel)


def iso_key(t: str) -> str:
    """A time as the server writes it (2024-01-02T00:00:00Z), for comparing
    with the text the caller gave (2024-01-02 is midnight UTC)."""
    t = t.strip()
    return t + "T00:00:00Z" if len(t) == 10 else t
