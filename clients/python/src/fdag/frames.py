"""DataFrames in, DataFrames out: what ``compute`` keeps of its input.

- A pandas frame's index is kept: ``result.to_pandas()`` has it.
- A DatetimeIndex (or any index named like the time column) serves as the
  time axis when the frame has no time column.
- ``keep="all"`` (or a list of names) puts input columns beside the
  features, aligned row for row.
- Dictionary-encoded columns (pandas ``category``, polars ``Categorical`` /
  ``Enum``) are decoded before sorting and sending, so the default sort works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Union

import pyarrow as pa

__all__ = ["FrameInput", "from_pandas", "decode_dictionaries", "keep_columns", "check_times", "KeepLike"]

#: ``keep`` of compute: None (features only), "all", or column names.
KeepLike = Union[None, str, Sequence[str]]


@dataclass
class FrameInput:
    """A pandas frame as an Arrow table, with what the result gives back."""

    table: pa.Table
    index: Any = None  # the frame's pandas index, restored on to_pandas()


def from_pandas(df: Any, time_column: str) -> FrameInput:
    """The Arrow table of a pandas frame, and its index.

    When ``time_column`` is not a column but the index is a DatetimeIndex
    (or an index named ``time_column``), the index becomes the time column.
    """
    import pandas as pd

    index = df.index
    if time_column not in df.columns:
        named = time_column in [n for n in (index.names or []) if n is not None]
        if isinstance(index, pd.DatetimeIndex) or named:
            if isinstance(index, pd.MultiIndex):
                values = index.get_level_values(time_column)
            else:
                values = index
            df = df.assign(**{time_column: values})
            if isinstance(values, pd.DatetimeIndex) and values.tz is None:
                pass  # naive times are read as UTC by the server, as from Arrow
    table = pa.Table.from_pandas(df, preserve_index=False)
    return FrameInput(table=table, index=index)


def decode_dictionaries(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns cast to their value type (Arrow's
    sort does not order dictionaries, and the server reads plain strings)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, pa.field(f.name, f.type.value_type, f.nullable, f.metadata),
                                     table.column(i).cast(f.type.value_type))
    return table


def check_times(table: pa.Table, time_column: str, index: Any = None) -> None:
    """Raise :class:`fdag.InvalidRequest` when a row has no time (a pandas
    ``NaT``, a null), naming the first such row of the caller's data (and
    its index label), before sorting: the server sees the sorted rows and
    could only name a row of those."""
    if time_column not in table.column_names:
        return
    col = table.column(time_column)
    if col.null_count == 0:
        return
    import pyarrow.compute as pc

    from .errors import InvalidRequest

    row = pc.index(pc.is_null(col), True).as_py()
    label = ""
    if index is not None and len(index) == table.num_rows:
        label = f" (index {index[row]!r})"
    raise InvalidRequest(
        f"time column {time_column!r} is null (NaT) at row {row}{label}, counting from 0; "
        f"{col.null_count} of {table.num_rows} rows have no time, and every row needs one "
        f"(drop them: df.dropna(subset=[{time_column!r}]))"
    )


def keep_columns(source: pa.Table, keep: KeepLike, features: List[str]) -> List[str]:
    """The input columns ``keep`` asks for, in input order for "all".

    Raises ValueError naming an unknown column, or a kept column named like
    a feature (the result could not hold both).
    """
    if keep is None:
        return []
    if isinstance(keep, str):
        if keep != "all":
            raise ValueError(f"keep must be None, 'all' or a list of column names, got {keep!r}")
        names = list(source.column_names)
    else:
        names = [str(k) for k in keep]
        unknown = [n for n in names if n not in source.column_names]
        if unknown:
            raise ValueError(f"keep: no input column {', '.join(map(repr, unknown))} "
                             f"(columns: {', '.join(source.column_names)})")
    clash = [n for n in names if n in features]
    if clash:
        raise ValueError(f"keep: input column {', '.join(map(repr, clash))} has the name of a feature; "
                         "rename one of them")
    return names


def with_kept(result: pa.Table, source: pa.Table, names: Sequence[str]) -> pa.Table:
    """``result`` with the ``names`` columns of ``source`` (row aligned)
    that it does not already hold (the time and symbol columns), placed
    before the features."""
    present = set(result.column_names)
    add = [n for n in names if n not in present]
    if not add:
        return result
    lead = [n for n in result.column_names if n in source.column_names]  # the time and symbol columns
    feats = [n for n in result.column_names if n not in source.column_names]
    cols = {n: result.column(n) for n in result.column_names}
    for n in add:
        cols[n] = source.column(n)
    order = [n for n in source.column_names if n in set(lead) | set(add)] + feats
    fields = [result.schema.field(n) if n in present else source.schema.field(n) for n in order]
    return pa.Table.from_arrays([cols[n] for n in order], schema=pa.schema(fields, metadata=result.schema.metadata))


def pandas_with_index(table: pa.Table, index: Optional[Any], **kwargs: Any) -> Any:
    """``table.to_pandas()`` with the input frame's index."""
    df = table.to_pandas(**kwargs)
    if index is not None and len(index) == len(df):
        df.index = index
    return df
