"""Plots of feature results with matplotlib (an optional dependency:
``pip install matplotlib`` or ``pip install 'fdag[notebook]'``)."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["plot_result"]


def _matplotlib_pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("plotting needs matplotlib: pip install matplotlib (or 'fdag[notebook]')") from e
    return plt


def _time_column(table: pa.Table, name: Optional[str]) -> str:
    if name is not None:
        if name not in table.column_names:
            raise ValueError(f"plot: no time column {name!r} (columns: {', '.join(table.column_names)})")
        return name
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            return f.name
    raise ValueError(f"plot: the table has no timestamp column (columns: {', '.join(table.column_names)}); pass time_column=")


def _as_array(values: Any, n: int, what: str) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks()
    elif isinstance(values, pa.Array):
        arr = values
    else:
        mod = type(values).__module__.split(".", 1)[0]
        if mod == "polars":
            arr = values.to_arrow()
        else:
            arr = pa.array(values.to_numpy() if hasattr(values, "to_numpy") else list(values), from_pandas=True)
    if len(arr) != n:
        raise ValueError(f"plot: {what} has {len(arr)} values for {n} rows; pass values aligned row for row with the result")
    return arr.cast(pa.float64())


def plot_result(
    result: Any,
    features: Union[str, Sequence[str], None] = None,
    *,
    price: Any = None,
    price_label: Optional[str] = None,
    symbol: Optional[str] = None,
    symbol_column: str = "symbol",
    time_column: Optional[str] = None,
    ax: Any = None,
    title: Optional[str] = None,
    max_features: int = 6,
    secondary_axis: bool = True,
) -> Any:
    """Plot features of ``result`` (a :class:`fdag.ComputeResult`) against time.

    Args:
        features: names of computed features (default: the first
            ``max_features`` that succeeded). A failed feature is an error
            naming it and its message.
        price: a column of the result table by name, or values aligned row
            for row with it (``trades["trade_price"]``, a pandas/polars
            Series, a pyarrow array): drawn on the left axis, the features
            then on a second axis at the right, or on the price's own axis
            with ``secondary_axis=False`` (features in price units, such as
            moving averages and VWAPs).
        symbol: plot only this symbol's rows; required when the result holds
            several symbols (lines across symbols would be meaningless).
        ax: a matplotlib Axes to draw on (default: a new figure).

    Returns:
        The Axes of the features (the right one when ``price`` is given).
    """
    plt = _matplotlib_pyplot()
    table: pa.Table = result.table
    n = table.num_rows
    tcol = _time_column(table, time_column)
    if isinstance(features, str):
        features = [features]
    errors = result.errors
    if features is None:
        features = result.features[:max_features]
    names: List[str] = list(features)
    for f in names:
        if f in errors:
            raise ValueError(f"plot: feature {f!r} failed: {errors[f]}")
        if f not in table.column_names:
            raise ValueError(f"plot: no feature {f!r} in the result (computed: {', '.join(result.features) or 'none'})")
    price_arr = None
    if price is not None:
        if isinstance(price, str):
            if price not in table.column_names:
                raise ValueError(f"plot: no column {price!r} in the result; pass the values (e.g. trades[{price!r}]) instead")
            price_label = price_label or price
            price_arr = table[price].combine_chunks().cast(pa.float64())
        else:
            price_label = price_label or getattr(price, "name", None) or "price"
            price_arr = _as_array(price, n, "price")
    mask = None
    if symbol_column in table.column_names:
        syms = table[symbol_column]
        if symbol is not None:
            mask = pc.equal(syms, pa.scalar(symbol, syms.type) if not pa.types.is_dictionary(syms.type) else symbol)
            if not pc.any(mask).as_py():
                present = sorted(str(s) for s in pc.unique(syms).to_pylist())
                raise ValueError(f"plot: no rows of symbol {symbol!r} (symbols: {', '.join(present)})")
        else:
            present = pc.unique(syms).to_pylist()
            if len(present) > 1:
                raise ValueError(f"plot: the result holds {len(present)} symbols ({', '.join(sorted(map(str, present)))}); pass symbol=")
    elif symbol is not None:
        raise ValueError(f"plot: symbol={symbol!r} given but the result has no column {symbol_column!r}")

    def values(arr: Any) -> Any:
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if mask is not None:
            arr = arr.filter(pa.chunked_array([mask]).combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask)
        return arr.to_numpy(zero_copy_only=False)

    t = values(table[tcol])
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    feature_ax = ax
    if price_arr is not None:
        ax.plot(t, values(price_arr), color="black", linewidth=1.0, label=price_label)
        ax.set_ylabel(price_label)
        if secondary_axis:
            feature_ax = ax.twinx()
    for i, f in enumerate(names):
        feature_ax.plot(t, values(table[f].cast(pa.float64())), linewidth=1.0, label=f, color=f"C{i}")
    if price_arr is not None and feature_ax is not ax:
        lines = ax.get_lines() + feature_ax.get_lines()
        ax.legend(lines, [l.get_label() for l in lines], loc="upper left")
    else:
        feature_ax.legend(loc="upper left")
    ax.set_xlabel(tcol)
    ax.set_title(title if title is not None else (symbol or ""))
    return feature_ax
