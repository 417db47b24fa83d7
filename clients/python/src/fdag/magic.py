"""The ``%%fdag`` cell magic: compute features from formulas written in a cell.

Load it with ``%load_ext fdag``, then::

    %%fdag --client client --data trades --out feats
    # one feature a line: name = formula (comments and blank lines allowed)
    ret_1 = log(close) - log(lag(close, 1))
    vol   = rolling_std(ret_1, 100)    # a trailing comment
    z     = (ret_1 - rolling_mean(ret_1, 100))
            / vol                      # an indented line continues the formula above

The cell computes the features on the frame named by ``--data`` (a pyarrow
Table, pandas or polars DataFrame) with the :class:`fdag.FeatureClient` named
by ``--client``, stores the :class:`fdag.ComputeResult` in ``--out`` and shows
it (rows, per-feature status, failed features with their errors, a preview).

Options:
    --client VAR   the client (default: the variable ``client``, else a new
                   client of the default server)
    --data VAR     the input frame (default: the only Table/DataFrame in the
                   namespace; with several, name one)
    --out VAR      where to store the result (default ``_fdag``)
    --time-column NAME, --symbol-column NAME   as in ``compute`` (defaults
                   event_time, symbol)
    --no-progress  no progress bar
    --quiet        store the result without showing it
"""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any, Dict, List, Mapping, Tuple

__all__ = ["parse_cell", "FdagMagicError", "load_ipython_extension", "fdag_cell"]


class FdagMagicError(ValueError):
    """A ``%%fdag`` cell or its options are malformed; the message names the line."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _strip_comment(line: str) -> str:
    """The line without a ``#`` comment; a ``#`` inside a quoted string stays."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def parse_cell(body: str) -> List[Dict[str, str]]:
    """The feature specs of a cell body: ``name = formula`` lines, in order.

    Blank lines and ``#`` comments are skipped; an indented line continues
    the formula above. Raises :class:`FdagMagicError` naming the line for a
    line that is not ``name = formula``, an empty formula or a repeated name.
    """
    specs: List[Tuple[int, str, List[str]]] = []  # (line number, name, formula parts)
    for n, raw in enumerate(body.splitlines(), start=1):
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        if line[0].isspace():
            if not specs:
                raise FdagMagicError(f"line {n}: an indented line continues a formula, but none came before: {raw.strip()!r}")
            specs[-1][2].append(line.strip())
            continue
        name, eq, formula = line.partition("=")
        name = name.strip()
        if not eq or formula.startswith("="):  # "a == b" alone is a formula without a name
            raise FdagMagicError(f"line {n}: expected 'name = formula', got {raw.strip()!r}")
        if not _NAME.match(name):
            raise FdagMagicError(f"line {n}: {name!r} is not a feature name (letters, digits and _, not starting with a digit)")
        specs.append((n, name, [formula.strip()]))
    out: List[Dict[str, str]] = []
    seen: Dict[str, int] = {}
    for n, name, parts in specs:
        formula = " ".join(p for p in parts if p)
        if not formula:
            raise FdagMagicError(f"line {n}: feature {name!r} has an empty formula")
        if name in seen:
            raise FdagMagicError(f"line {n}: feature {name!r} is already defined on line {seen[name]}")
        seen[name] = n
        out.append({"name": name, "formula": formula})
    if not out:
        raise FdagMagicError("the cell defines no feature: write one 'name = formula' a line")
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise FdagMagicError(f"%%fdag: {message} (usage: {' '.join(self.format_usage().split()[1:])})")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%fdag", add_help=False)
    p.add_argument("--client")
    p.add_argument("--data")
    p.add_argument("--out", default="_fdag")
    p.add_argument("--time-column", default="event_time")
    p.add_argument("--symbol-column", default="symbol")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--quiet", action="store_true")
    return p


def _is_frame(v: Any) -> bool:
    import pyarrow as pa

    if isinstance(v, (pa.Table, pa.RecordBatch)):
        return True
    mod = type(v).__module__.split(".", 1)[0]
    return mod in ("pandas", "polars") and type(v).__name__ in ("DataFrame", "LazyFrame")


def _pick_data(ns: Mapping[str, Any], name: str | None) -> Any:
    if name is not None:
        if name not in ns:
            raise FdagMagicError(f"--data {name}: no such variable")
        if not _is_frame(ns[name]):
            raise FdagMagicError(f"--data {name}: a {type(ns[name]).__name__}, not a pyarrow Table or pandas/polars DataFrame")
        return ns[name]
    frames = sorted(k for k, v in ns.items() if not k.startswith("_") and _is_frame(v))
    if len(frames) == 1:
        return ns[frames[0]]
    if not frames:
        raise FdagMagicError("no input frame: define a pyarrow Table or pandas/polars DataFrame and pass --data VAR")
    raise FdagMagicError(f"several frames ({', '.join(frames)}): say which with --data VAR")


def _pick_client(ns: Mapping[str, Any], name: str | None) -> Any:
    from .client import FeatureClient

    if name is not None:
        if name not in ns:
            raise FdagMagicError(f"--client {name}: no such variable")
        if not isinstance(ns[name], FeatureClient):
            raise FdagMagicError(f"--client {name}: a {type(ns[name]).__name__}, not an fdag.FeatureClient")
        return ns[name]
    if isinstance(ns.get("client"), FeatureClient):
        return ns["client"]
    return FeatureClient()


def fdag_cell(line: str, cell: str, ns: Dict[str, Any]) -> Any:
    """Run one ``%%fdag`` cell against namespace ``ns``; returns the result
    (or None with ``--quiet``). The IPython magic is a thin wrapper of this."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise FdagMagicError(f"%%fdag {line.strip()}: {e}") from None
    args = _parser().parse_args(words)
    specs = parse_cell(cell)
    data = _pick_data(ns, args.data)
    client = _pick_client(ns, args.client)
    result = client.compute(
        data,
        specs,
        time_column=args.time_column,
        symbol_column=args.symbol_column,
        progress=False if args.no_progress else None,
    )
    ns[args.out] = result
    return None if args.quiet else result


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%fdag`` (called by ``%load_ext fdag``)."""
    from IPython.core.error import UsageError

    def fdag(line: str, cell: str) -> Any:
        try:
            return fdag_cell(line, cell, ipython.user_ns)
        except FdagMagicError as e:
            raise UsageError(str(e)) from None

    fdag.__doc__ = __doc__
    ipython.register_magic_function(fdag, magic_kind="cell", magic_name="fdag")
