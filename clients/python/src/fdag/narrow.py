"""Narrow ft_features rows back to the wide table, on the row identity.

ft_features holds one row per (feature, source row). Real trades share
timestamps, so (symbol, feature_name, timestamp) repeats; the join key is
(symbol, timestamp, seq), where ``seq`` numbers the source rows of one
(symbol, timestamp) in input order (docs/warehouse.md, "Row identity").
Rows written before ``seq`` existed have it null: they are numbered here by
their order within (symbol, feature_name, timestamp) as read.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["narrow_to_wide", "JOIN_KEY"]

#: The columns that identify one source row in ft_features.
JOIN_KEY = ("symbol", "timestamp", "seq")


def _fill_seq(narrow: pa.Table) -> pa.Table:
    """``seq`` with its nulls replaced by the row's ordinal among the rows of
    the same (symbol, feature_name, timestamp) that lack one, in read order."""
    if "seq" not in narrow.column_names:
        narrow = narrow.append_column("seq", pa.nulls(narrow.num_rows, pa.int32()))
    seq = narrow.column("seq")
    if seq.null_count == 0:
        return narrow
    import numpy as np

    missing = np.flatnonzero(seq.is_null().to_numpy(zero_copy_only=False))
    sub = narrow.take(pa.array(missing)).select(["symbol", "feature_name", "timestamp"])
    sub = sub.append_column("_row", pa.array(missing))
    sub = sub.sort_by([("symbol", "ascending"), ("feature_name", "ascending"), ("timestamp", "ascending"),
                       ("_row", "ascending")])
    sym = sub.column("symbol").to_numpy(zero_copy_only=False)
    feat = sub.column("feature_name").to_numpy(zero_copy_only=False)
    ts = pc.cast(sub.column("timestamp"), pa.int64()).to_numpy()
    new_run = np.ones(len(ts), dtype=bool)
    new_run[1:] = (sym[1:] != sym[:-1]) | (feat[1:] != feat[:-1]) | (ts[1:] != ts[:-1])
    pos = np.arange(len(ts))
    run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
    filled = np.asarray(seq.fill_null(0).to_numpy(), dtype=np.int32).copy()
    filled[sub.column("_row").to_numpy()] = (pos - run_start).astype(np.int32)
    i = narrow.column_names.index("seq")
    return narrow.set_column(i, pa.field("seq", pa.int32()), pa.array(filled, pa.int32()))


def narrow_to_wide(narrow: pa.Table, names: Optional[Sequence[str]] = None) -> pa.Table:
    """The wide table of narrow ft_features rows: one row per source row
    (symbol, timestamp, seq), columns ``event_time, symbol, seq, trade_id``
    and one float64 column per feature (``names`` in that order; None: every
    feature present, sorted by name), in time order (time, symbol, seq). A
    feature without a value at a row is null there. Rows with a status other
    than ``success`` are left out.

    Raises ValueError when a feature has two values for one key (two
    versions of one feature name stored side by side: filter by version).
    """
    for c in ("symbol", "feature_name", "timestamp", "feature_value_numeric"):
        if c not in narrow.column_names:
            raise ValueError(f"not ft_features rows: no column {c!r} (columns: {', '.join(narrow.column_names)})")
    if "status" in narrow.column_names:
        narrow = narrow.filter(pc.equal(narrow.column("status"), "success"))
    narrow = _fill_seq(narrow)
    if names is None:
        names = sorted(set(narrow.column("feature_name").to_pylist()))
    key = list(JOIN_KEY)
    has_ids = "trade_id" in narrow.column_names
    base_cols = key + (["trade_id"] if has_ids else [])
    rows = narrow.select(base_cols)
    if has_ids:
        # one trade_id per key: the first non-null any feature stored
        rows = rows.group_by(key).aggregate([("trade_id", "min")]).rename_columns(key + ["trade_id"])
    else:
        rows = rows.group_by(key).aggregate([])
    wide = rows
    for name in names:
        part = narrow.filter(pc.equal(narrow.column("feature_name"), name)).select(key + ["feature_value_numeric"])
        dup = part.group_by(key).aggregate([])
        if dup.num_rows != part.num_rows:
            raise ValueError(
                f"feature {name!r}: {part.num_rows - dup.num_rows} repeated (symbol, timestamp, seq) rows; "
                "are two versions of it stored? read one version"
            )
        wide = wide.join(part.rename_columns(key + [name]), key, join_type="left outer")
    wide = wide.sort_by([("timestamp", "ascending"), ("symbol", "ascending"), ("seq", "ascending")])
    cols: List[str] = ["timestamp", "symbol", "seq"] + (["trade_id"] if has_ids else []) + list(names)
    wide = wide.select(cols)
    return wide.rename_columns(["event_time"] + cols[1:])
