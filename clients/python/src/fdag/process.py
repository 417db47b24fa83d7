"""The process stage over Flight: bar tables and labels written by the server
into its warehouse (the ``bars`` and ``labels`` actions, as ``fdag bars`` and
``fdag labels``). See docs/process.md for the kinds, methods and parameters."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Union

from .notices import FdagWarning
from .warehouse import TimeLike, iso_time, symbols_list

if TYPE_CHECKING:  # pragma: no cover
    from .client import FeatureClient

__all__ = ["bars", "labels"]


def _spec_list(value: Union[str, Sequence[str]], what: str) -> str:
    items = [value] if isinstance(value, str) else list(value)
    joined = ",".join(s.strip() for s in items if s and s.strip())
    if not joined:
        raise ValueError(f"{what}: give at least one, e.g. {'tick:500' if what == 'kinds' else 'fixed_horizon:h=10'}")
    return joined


def _run(client: "FeatureClient", action: str, body: Dict[str, Any], timeout: Optional[float]) -> Dict[str, Any]:
    summary = client._action(action, body, timeout) or {}
    for w in summary.get("warnings") or []:
        warnings.warn(f"{action}: {w}", FdagWarning, stacklevel=3)
    return summary


def bars(
    client: "FeatureClient",
    kinds: Union[str, Sequence[str]],
    symbols: Union[str, Sequence[str]],
    start: TimeLike,
    end: TimeLike,
    *,
    source: Optional[str] = None,
    timeout: Optional[float] = None,
) -> Dict[str, Any]:
    """Bar tables ``cdm_bars_<kind>`` of ``symbols`` over the UTC days
    ``[start, end)`` from the server's trades, one fused pass per (symbol,
    day); a re-run replaces. Returns the summary (``shards``, ``trades``,
    ``tables``: ``table``, ``kind``, ``bars``, ``files``, ``snapshot_id``).
    Warnings (no trades in the range) are issued as :class:`fdag.FdagWarning`."""
    body: Dict[str, Any] = {
        "kinds": _spec_list(kinds, "kinds"),
        "symbols": symbols_list(symbols),
        "start": iso_time(start, "start"),
        "end": iso_time(end, "end"),
    }
    if source:
        body["source"] = source
    return _run(client, "bars", body, timeout)


def labels(
    client: "FeatureClient",
    methods: Union[str, Sequence[str]],
    symbols: Union[str, Sequence[str]],
    start: TimeLike,
    end: TimeLike,
    *,
    source: Optional[str] = None,
    lookahead: Optional[str] = None,
    timeout: Optional[float] = None,
) -> Dict[str, Any]:
    """Labels of the events of ``source`` (the trades, or a bar table such as
    ``cdm_bars_time_1m``) of ``symbols`` over the UTC days ``[start, end)``,
    written to ``cdm_labels`` in one commit; a re-run replaces. ``methods``:
    e.g. ``["fixed_horizon:h=10", "triple_barrier:pt=2:sl=1:horizon=1h"]``.
    An event's label sees the future to the end of its day plus
    ``lookahead`` (default ``"1d"``). Returns the summary (``shards``,
    ``events``, ``specs``: ``spec``, ``events``, ``labeled``; ``snapshot_id``).
    Read the rows with ``client.read_table("cdm_labels", ...)``."""
    body: Dict[str, Any] = {
        "methods": _spec_list(methods, "methods"),
        "symbols": symbols_list(symbols),
        "start": iso_time(start, "start"),
        "end": iso_time(end, "end"),
    }
    if source:
        body["source"] = source
    if lookahead:
        body["lookahead"] = lookahead
    return _run(client, "labels", body, timeout)
