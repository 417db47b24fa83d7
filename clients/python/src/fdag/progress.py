"""Progress bars for the client's long calls, notebook-aware.

Every long call of :class:`fdag.FeatureClient` takes ``progress=``:

- ``None`` (the default): a bar when one can be seen, that is in a Jupyter
  kernel or when stderr is a terminal, and tqdm is installed; else nothing.
- ``True``: always a bar (tqdm is then required: ``pip install tqdm``).
- ``False``: never a bar.
- a callable ``f(done, total)``: called after each step instead of a bar
  (``total`` is None when unknown), for logging or custom displays.

In a Jupyter kernel with ipywidgets installed the bar is a notebook widget
(``tqdm.notebook``); without ipywidgets, or outside Jupyter, it is tqdm's
text bar on stderr, which Jupyter also renders.

Use it in one's own code the same way the client does::

    from fdag.progress import progress_bar

    with progress_bar(progress, total=len(shards), desc="run_batch", unit="shard") as bar:
        for shard in shards:
            run(shard)
            bar.update(1)
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Union

__all__ = ["ProgressLike", "ProgressBar", "progress_bar", "in_notebook"]

#: What a ``progress=`` argument accepts (see the module docs).
ProgressLike = Union[None, bool, Callable[[int, Optional[int]], Any]]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython over ZMQ), where output is a cell's."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - a broken IPython is not ours to fix
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except Exception:  # pragma: no cover
        return False


def _tqdm_class(notebook: bool) -> Optional[Any]:
    """tqdm's notebook bar when it can be drawn, its text bar otherwise, None without tqdm."""
    try:
        import tqdm as _tqdm  # noqa: F401
    except ImportError:
        return None
    if notebook:
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm
        except ImportError:
            pass  # the text bar below renders in Jupyter too
    from tqdm.std import tqdm as text_tqdm

    return text_tqdm


class ProgressBar:
    """A bar (or nothing) with tqdm's small interface: ``update``, ``set_total``,
    ``set_description``, ``close``; a context manager. ``done`` counts steps so far."""

    def __init__(
        self,
        bar: Any = None,
        callback: Optional[Callable[[int, Optional[int]], Any]] = None,
        total: Optional[int] = None,
    ) -> None:
        self._bar = bar
        self._callback = callback
        self.total = total
        self.done = 0

    @property
    def enabled(self) -> bool:
        """True when something is shown or called back."""
        return self._bar is not None or self._callback is not None

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self._callback is not None:
            self._callback(self.done, self.total)

    def set_total(self, total: Optional[int]) -> None:
        """Set (or correct) the total once it is known."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def set_description(self, desc: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(desc, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(
    progress: ProgressLike = None,
    *,
    total: Optional[int] = None,
    desc: str = "",
    unit: str = "it",
    unit_scale: bool = False,
) -> ProgressBar:
    """A :class:`ProgressBar` as ``progress`` asks (see the module docs).

    Raises:
        ImportError: ``progress=True`` without tqdm installed.
        TypeError: ``progress`` is neither None, a bool nor a callable.
    """
    if progress is False:
        return ProgressBar(total=total)
    if callable(progress) and not isinstance(progress, bool):
        return ProgressBar(callback=progress, total=total)
    if progress is not None and progress is not True:
        raise TypeError(f"progress must be None, True, False or a callable f(done, total); got {type(progress).__name__}")
    notebook = in_notebook()
    if progress is None and not (notebook or _stderr_is_terminal()):
        return ProgressBar(total=total)
    cls = _tqdm_class(notebook)
    if cls is None:
        if progress is True:
            raise ImportError("progress=True needs tqdm: pip install tqdm (or pass progress=False)")
        return ProgressBar(total=total)
    kwargs: dict = {"total": total, "desc": desc, "unit": unit, "unit_scale": unit_scale, "leave": True}
    if cls.__module__ == "tqdm.std":
        kwargs["file"] = sys.stderr
    return ProgressBar(bar=cls(**kwargs), total=total)
