"""Carets under the formula in error messages, as the CLI's explain shows
them (cel-go style)::

    ret_5: 1:14: rolling_mean expects 2 or 3 arguments, got 1
     | log(close) - rolling_mean(close)
     |              ^

The server's messages say ``name: line:col: ...``; the client knows the
formulas it sent, so it renders the line and the caret for inline formulas
(a FeatureType's positions refer to its instance, which the server shows).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Dict, Iterable, Iterator, List, Mapping

from .errors import FdagError

__all__ = ["with_carets", "carets_for", "caret_statuses"]

_POS = re.compile(r"^(?P<name>[^:\n]+): (?P<line>\d+):(?P<col>\d+): .*$")


def with_carets(message: str, specs: Iterable[Mapping[str, Any]]) -> str:
    """``message`` with a source line and caret after each ``name: l:c:``
    line that points into an inline formula of ``specs`` and has none yet."""
    if not message:
        return message
    formulas: Dict[str, str] = {str(s.get("name")): s["formula"] for s in specs
                                if isinstance(s.get("formula"), str) and not s.get("type")}
    lines = message.split("\n")
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        m = _POS.match(line)
        if m is None or m.group("name") not in formulas:
            continue
        if i + 1 < len(lines) and lines[i + 1].startswith(" | "):
            continue  # the server rendered it already
        src = formulas[m.group("name")].split("\n")
        ln, col = int(m.group("line")), int(m.group("col"))
        if 1 <= ln <= len(src) and 1 <= col <= len(src[ln - 1]) + 1:
            out.append(" | " + src[ln - 1])
            out.append(" | " + " " * (col - 1) + "^")
    return "\n".join(out)


@contextlib.contextmanager
def carets_for(specs: List[Mapping[str, Any]]) -> Iterator[None]:
    """Add carets to the message of an FdagError raised inside."""
    try:
        yield
    except FdagError as e:
        msg = with_carets(e.message, specs)
        if msg != e.message:
            e.message = msg
            e.args = (msg,)
        raise


def caret_statuses(statuses: List[Any], specs: List[Mapping[str, Any]]) -> List[Any]:
    """Feature statuses with carets in their errors (FeatureStatus is frozen:
    new ones where the message changes)."""
    import dataclasses

    out = []
    for st in statuses:
        err = getattr(st, "error", None)
        if err:
            msg = with_carets(err, specs)
            if msg != err:
                st = dataclasses.replace(st, error=msg)
        out.append(st)
    return out
