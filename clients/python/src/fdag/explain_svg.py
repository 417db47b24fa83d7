"""Drawing the server's DOT source with Graphviz, when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from typing import Optional

#: Seconds ``dot`` may take; a DAG of a few hundred nodes takes well under one.
DOT_TIMEOUT = 20.0


def dot_to_svg(dot: str, binary: Optional[str] = None) -> Optional[str]:
    """SVG of Graphviz source ``dot`` via the ``dot`` program, or None when
    there is no source, no ``dot`` on PATH, or it fails (a display must not
    raise; the caller then shows text)."""
    if not dot:
        return None
    exe = binary or shutil.which("dot")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, timeout=DOT_TIMEOUT, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    svg = out.stdout.decode("utf-8", "replace")
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else None
