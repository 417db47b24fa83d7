"""Warehouse calls of the fdag client: fetch features computed from the
Iceberg source tables (GetFlightInfo + DoGet), read stored tables, ingest
(DoPut) and list tables (ListFlights). The protocol is docs/flight.md."""

from __future__ import annotations

import datetime as _dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.flight as flight

from .errors import FdagError, ProtocolError, from_flight_error
from .notices import FdagWarning
from .progress import ProgressLike, progress_bar

__all__ = ["TableInfo", "IngestResult", "TimeLike", "iso_time", "ticket_for", "read_endpoints"]

TimeLike = Union[str, _dt.datetime, _dt.date, Any]  # Any: pandas.Timestamp, numpy.datetime64


def iso_time(value: TimeLike, what: str) -> str:
    """ISO 8601 (UTC, 'Z') text for a time given as text, datetime, date,
    pandas Timestamp or numpy datetime64. Naive datetimes are taken as UTC."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"{what}: empty time")
        return value.strip()
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    elif type(value).__name__ == "datetime64":  # numpy, without importing it
        value = pa.scalar(value, type=pa.timestamp("us")).as_py()
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    raise TypeError(f"{what}: expected an ISO 8601 string, datetime or date, got {type(value).__name__}")


@dataclass(frozen=True)
class TableInfo:
    """A table of the warehouse, as ListFlights reports it."""

    name: str
    schema: pa.Schema
    total_records: Optional[int] = None
    metadata: Dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        from .result import count

        rows = "? rows" if self.total_records is None or self.total_records < 0 else count(self.total_records, "row")
        return f"TableInfo({self.name!r}, {count(len(self.schema), 'column')}, {rows})"


@dataclass(frozen=True)
class IngestResult:
    """What a DoPut ingest committed. ``rows`` were added; ``duplicates``
    were skipped because their (symbol, trade_id) was in the table already
    or earlier in the same data (ingesting the same trades twice adds them
    once); ``without_key`` of the added rows had no trade_id and so could not
    be checked (docs/warehouse.md, "Ingest"). ``dropped_columns`` are the
    data's columns the table has no column for: not stored (a
    :class:`DroppedColumnsWarning` names them)."""

    table: str
    rows: int
    duplicates: int = 0
    without_key: int = 0
    files: int = 0
    snapshot_id: Optional[int] = None
    dropped_columns: Tuple[str, ...] = ()
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)


class DroppedColumnsWarning(FdagWarning):
    """An ingest did not store some of the data's columns: the table has no
    column of their names (rename them to the table's, or they are lost)."""


def ticket_for(command: Mapping[str, Any]) -> bytes:
    return json.dumps(command, separators=(",", ":")).encode("utf-8")


def read_endpoints(
    client: flight.FlightClient,
    options: flight.FlightCallOptions,
    info: flight.FlightInfo,
    parallel: bool,
    max_workers: Optional[int] = None,
    progress: ProgressLike = False,
    notices: Optional[List[Dict[str, Any]]] = None,
) -> pa.Table:
    """DoGet every endpoint of ``info`` (in parallel threads when asked) and
    concatenate the answers in endpoint order. ``progress`` counts endpoints
    done (see :mod:`fdag.progress`). The server's in-band notices (the
    ``fdag.notices`` of a batch's app_metadata, docs/flight.md) are
    appended to ``notices`` in endpoint order when it is given."""
    endpoints = list(info.endpoints)
    schema = info.schema
    bar = progress_bar(progress, total=len(endpoints), desc="fetch", unit="endpoint")
    lock = threading.Lock()

    def one(ep: flight.FlightEndpoint) -> Tuple[pa.Table, List[Dict[str, Any]]]:
        try:
            reader = client.do_get(ep.ticket, options)
            batches, found = [], []
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    break
                if chunk.data is not None and chunk.data.num_rows:
                    batches.append(chunk.data)
                found += notices_of(chunk.app_metadata)
            part = pa.Table.from_batches(batches, schema=reader.schema)
        except FdagError:
            raise
        except Exception as e:
            raise from_flight_error(e) from e
        with lock:
            bar.update(1)
        return part, found

    if not endpoints:
        return schema.empty_table()
    with bar:
        if parallel and len(endpoints) > 1:
            with ThreadPoolExecutor(max_workers=max_workers or min(8, len(endpoints)), thread_name_prefix="fdag-fetch") as pool:
                answers = list(pool.map(one, endpoints))
        else:
            answers = [one(ep) for ep in endpoints]
    parts = [a[0] for a in answers]
    if notices is not None:
        for _, found in answers:
            notices.extend(found)
    try:
        return pa.concat_tables([p.cast(schema) if p.schema != schema else p for p in parts])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ProtocolError(f"the endpoints answered with different schemas: {e}") from e


#: The app_metadata key of the server's in-band notices.
NOTICES_KEY = "fdag.notices"


def notices_of(app_metadata: Optional[pa.Buffer]) -> List[Dict[str, Any]]:
    """The notices in one FlightData message's app_metadata ([] when none;
    metadata that is not the server's JSON is not ours to judge)."""
    if app_metadata is None or app_metadata.size == 0:
        return []
    try:
        raw = json.loads(app_metadata.to_pybytes())
    except ValueError:
        return []
    found = raw.get(NOTICES_KEY) if isinstance(raw, dict) else None
    return [n for n in found if isinstance(n, dict)] if isinstance(found, list) else []


def read_with_progress(reader: flight.FlightStreamReader, progress: ProgressLike, desc: str) -> pa.Table:
    """Read a DoGet stream whole, counting rows on a bar. With
    ``progress=None`` the bar appears only once a second batch arrives."""
    batches: List[pa.RecordBatch] = []
    rows = 0
    bar = progress_bar(False) if progress is None else progress_bar(progress, desc=desc, unit="rows", unit_scale=True)
    try:
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            if chunk.data is None:
                continue
            batches.append(chunk.data)
            rows += chunk.data.num_rows
            if progress is None and len(batches) == 2:
                bar = progress_bar(None, desc=desc, unit="rows", unit_scale=True)
                bar.update(rows - chunk.data.num_rows)
            bar.update(chunk.data.num_rows)
        bar.set_total(rows)
    finally:
        bar.close()
    return pa.Table.from_batches(batches, schema=reader.schema)


def table_infos(flights: Iterable[flight.FlightInfo]) -> List[TableInfo]:
    out = []
    for fi in flights:
        path = list(fi.descriptor.path or [])
        name = ".".join(p.decode("utf-8") if isinstance(p, bytes) else str(p) for p in path)
        md = fi.schema.metadata or {}
        extra = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in md.items()}
        out.append(TableInfo(name=name, schema=fi.schema, total_records=fi.total_records, metadata=extra))
    return out


def ingest_result(table: str, raw_meta: Optional[bytes]) -> IngestResult:
    if not raw_meta:
        raise ProtocolError(f"ingest into {table!r}: the server sent no summary")
    try:
        raw = json.loads(raw_meta)
    except ValueError as e:
        raise ProtocolError(f"ingest into {table!r}: the summary is not JSON: {raw_meta[:200]!r}") from e
    dropped = tuple(str(c) for c in (raw.get("dropped_columns") or []))
    if dropped:
        import warnings

        warnings.warn(f"ingest into {raw.get('table', table)!r}: column{'s' if len(dropped) > 1 else ''} "
                      f"{', '.join(dropped)} not stored: the table has no such column", DroppedColumnsWarning,
                      stacklevel=3)
    return IngestResult(
        table=str(raw.get("table", table)),
        rows=int(raw.get("rows", 0)),
        duplicates=int(raw.get("duplicates", 0)),
        without_key=int(raw.get("without_key", 0)),
        files=int(raw.get("files", 0)),
        snapshot_id=raw.get("snapshot_id"),
        dropped_columns=dropped,
        raw=raw,
    )


def symbols_list(symbols: Union[str, Sequence[str], None]) -> Optional[List[str]]:
    if symbols is None:
        return None
    if isinstance(symbols, str):
        return [symbols]
    out = [str(s) for s in symbols]
    if not out:
        raise ValueError("symbols: empty list")
    return out


__all__ += ["table_infos", "ingest_result", "symbols_list", "FdagError"]
