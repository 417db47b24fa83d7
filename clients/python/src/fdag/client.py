"""The Arrow Flight client of the fdag feature server."""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

from .errors import Cancelled, FdagError, InvalidRequest, ProtocolError, from_flight_error
from .progress import ProgressLike, progress_bar
from .carets import caret_statuses, carets_for
from .frames import KeepLike, check_times, decode_dictionaries, from_pandas, keep_columns, with_kept
from .narrow import narrow_to_wide
from .notices import FdagWarning, check_on_empty, check_read, report_notices
from .result import METADATA_KEY, ComputeResult, FeatureStatus, parse_statuses
from .specs import FeaturesLike, normalize_features
from .warehouse import (
    IngestResult,
    TableInfo,
    TimeLike,
    ingest_result,
    iso_time,
    read_endpoints,
    read_with_progress,
    symbols_list,
    table_infos,
    ticket_for,
)

__all__ = [
    "FeatureClient",
    "Explanation",
    "Validation",
    "FeatureCatalog",
    "DEFAULT_LOCATION",
    "DEFAULT_CHUNK_ROWS",
]

DEFAULT_LOCATION = "grpc://127.0.0.1:8815"
#: Rows per batch sent to the server (a batch of 64Ki rows x a few columns is
#: a few MB, well under gRPC's default message limit).
DEFAULT_CHUNK_ROWS = 65_536
#: With ``progress=None``, compute shows a bar from this many input rows on.
PROGRESS_MIN_ROWS = 1_000_000

DataLike = Any  # pa.Table | pa.RecordBatch | pa.RecordBatchReader | pandas / polars DataFrame


# ---------------------------------------------------------------------------
# Small result types of the actions


@dataclass
class Explanation:
    """The server's explanation of a feature set: the DAG after common
    subexpression elimination, with lookbacks. ``text`` is human readable,
    ``dot`` is Graphviz source."""

    text: str
    dot: str = ""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.text)}</pre>"

    def _repr_svg_(self) -> Optional[str]:
        """The server's DOT drawn by Graphviz's ``dot`` when it is installed;
        None otherwise, so notebooks show the text (``_repr_html_``)."""
        from .explain_svg import dot_to_svg

        return dot_to_svg(self.dot)


@dataclass
class Validation:
    """Per-feature outcome of ``validate``: ``statuses``, ``errors`` (name ->
    message) and ``ok``."""

    statuses: List[FeatureStatus]
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.statuses)

    @property
    def errors(self) -> Dict[str, str]:
        return {s.name: s.error for s in self.statuses if not s.ok}

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        n_ok = sum(1 for s in self.statuses if s.ok)
        lines = [f"Validation: {n_ok} of {len(self.statuses)} features ok"]
        for s in self.statuses:
            if not s.ok:
                lines.append(f"  FAILED {s.name}: {s.error}")
        return "\n".join(lines)


@dataclass
class FeatureCatalog:
    """What the server offers: built-in ``functions`` and registered
    ``feature_types`` (each a dict as the server sent it)."""

    functions: List[Dict[str, Any]]
    feature_types: List[Dict[str, Any]]
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    def function(self, name: str) -> Dict[str, Any]:
        for f in self.functions:
            if f.get("name") == name:
                return f
        raise KeyError(name)

    def feature_type(self, name: str) -> Dict[str, Any]:
        for f in self.feature_types:
            if f.get("name") == name:
                return f
        raise KeyError(name)

    def __repr__(self) -> str:
        lines = [f"FeatureCatalog: {len(self.functions)} functions, {len(self.feature_types)} feature types"]
        for f in self.functions:
            lines.append(f"  {f.get('signature') or f.get('name')}: {f.get('doc', '')}")
        for t in self.feature_types:
            params = t.get("params") or {}
            ps = ", ".join(f"{k}={v!r}" for k, v in params.items())
            lines.append(f"  type {t.get('name')}({ps}): {t.get('formula', '')}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Input conversion


def _module_of(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def _arrow_friendly_type(t: pa.DataType) -> pa.DataType:
    """Types every Arrow implementation reads: views and dictionaries become plain."""
    if pa.types.is_dictionary(t):
        return _arrow_friendly_type(t.value_type)
    if hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t):
        return pa.string()
    if hasattr(pa.types, "is_binary_view") and pa.types.is_binary_view(t):
        return pa.binary()
    return t


def _friendly_schema(schema: pa.Schema) -> Optional[pa.Schema]:
    """The schema to send, or None when ``schema`` can be sent as is."""
    fields = []
    changed = False
    for f in schema:
        t = _arrow_friendly_type(f.type)
        changed |= t != f.type
        fields.append(pa.field(f.name, t, f.nullable, f.metadata))
    if not changed:
        return None
    return pa.schema(fields, metadata=schema.metadata)


def _as_arrow(data: DataLike) -> Union[pa.Table, pa.RecordBatchReader]:
    """A pyarrow Table or RecordBatchReader for any supported input."""
    if isinstance(data, (pa.Table, pa.RecordBatchReader)):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    mod = _module_of(data)
    if mod == "pandas":
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return pa.Table.from_pandas(data, preserve_index=False)
    if mod == "polars":
        import polars as pl

        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        if isinstance(data, pl.DataFrame):
            return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    if isinstance(data, Iterable):
        # An iterable of record batches.
        it = iter(data)
        first = next(it, None)
        if isinstance(first, pa.RecordBatch):
            def gen() -> Iterator[pa.RecordBatch]:
                yield first
                yield from it

            return pa.RecordBatchReader.from_batches(first.schema, gen())
    raise TypeError(
        "data must be a pyarrow Table, RecordBatch or RecordBatchReader, a pandas or polars "
        f"DataFrame, or an iterable of RecordBatches; got {type(data).__name__}"
    )


def _sort_order(table: pa.Table, time_column: str, symbol_column: Optional[str]) -> Optional[pa.Array]:
    """Stable (symbol, time) order of ``table``'s rows, or None when the table
    is already in that order (or cannot be sorted: the server then reports
    the missing column)."""
    names = table.column_names
    if time_column not in names or table.num_rows < 2:
        return None
    keys = []
    if symbol_column and symbol_column in names:
        keys.append((symbol_column, "ascending"))
    keys.append((time_column, "ascending"))
    # Arrow's sort_indices is stable: rows with equal keys keep their order.
    idx = pc.sort_indices(table.select([k for k, _ in keys]), sort_keys=keys)
    try:
        import numpy as np

        a = idx.to_numpy()
        if (a == np.arange(len(a), dtype=a.dtype)).all():
            return None
    except ImportError:  # pragma: no cover
        pass
    return idx


def _inverse(order: pa.Array) -> pa.Array:
    try:
        import numpy as np

        a = order.to_numpy()
        inv = np.empty(len(a), dtype=np.int64)
        inv[a] = np.arange(len(a), dtype=np.int64)
        return pa.array(inv)
    except ImportError:  # pragma: no cover
        return pc.sort_indices(order)


def _rechunk(batches: Iterable[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """Slices of at most ``chunk_rows`` rows (zero copy), skipping empty batches."""
    for b in batches:
        n = b.num_rows
        if n == 0:
            continue
        if n <= chunk_rows:
            yield b
            continue
        for off in range(0, n, chunk_rows):
            yield b.slice(off, chunk_rows)


def _with_keys(features: pa.Table, sent: pa.Table, send_schema: Optional[pa.Schema], time_column: str,
               symbol_column: Optional[str]) -> pa.Table:
    """The answer to a ``"keys": false`` exchange (the feature columns) with
    the time and symbol columns in front, as the server sends them with keys:
    the columns sent (cast as sent), nullable, without field metadata. The
    server's symbol column is ``"symbol"`` when the command names none, and
    only when the input has it."""
    names = [time_column]
    symbol = symbol_column or "symbol"
    if symbol in sent.column_names:
        names.append(symbol)
    cols, fields = [], []
    for n in names:
        col = sent.column(n)
        if send_schema is not None and col.type != send_schema.field(n).type:
            col = col.cast(send_schema.field(n).type)
        cols.append(col)
        fields.append(pa.field(n, col.type, nullable=True))
    schema = pa.schema(fields + list(features.schema), metadata=features.schema.metadata)
    return pa.Table.from_arrays(cols + features.columns, schema=schema)


def _cast_batches(batches: Iterable[pa.RecordBatch], schema: Optional[pa.Schema]) -> Iterator[pa.RecordBatch]:
    if schema is None:
        yield from batches
        return
    for b in batches:
        yield b.cast(schema) if hasattr(b, "cast") else pa.Table.from_batches([b]).cast(schema).to_batches()[0]


# ---------------------------------------------------------------------------
# The exchange


@dataclass
class _ExchangeOutcome:
    schema: pa.Schema
    batches: List[pa.RecordBatch]
    final: Dict[str, Any]
    rows_sent: int


def _exchange(
    client: flight.FlightClient,
    options: flight.FlightCallOptions,
    command: Union[Mapping[str, Any], bytes],
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    on_batch: Optional[Callable[[pa.RecordBatch], None]] = None,
) -> _ExchangeOutcome:
    """One DoExchange: stream ``batches`` up while reading the answer.

    Writing runs on one thread and reading on another, so a large input never
    deadlocks on gRPC flow control; the calling thread only waits (in short
    slices, so Ctrl-C in a notebook cancels the call).
    """
    raw = command if isinstance(command, bytes) else json.dumps(command).encode("utf-8")
    descriptor = flight.FlightDescriptor.for_command(raw)
    try:
        writer, reader = client.do_exchange(descriptor, options)
    except Exception as e:
        raise from_flight_error(e) from e

    state: Dict[str, Any] = {"rows_sent": 0, "write_error": None, "read_error": None}
    out_batches: List[pa.RecordBatch] = []
    final: Dict[str, Any] = {}
    out_schema: List[pa.Schema] = []
    failed = threading.Event()

    def write() -> None:
        try:
            writer.begin(schema)
            for b in batches:
                if failed.is_set():
                    return
                writer.write_batch(b)
                state["rows_sent"] += b.num_rows
            writer.done_writing()
        except BaseException as e:  # noqa: BLE001 - re-raised on the caller's thread
            state["write_error"] = e
            failed.set()
            try:
                reader.cancel()
            except Exception:
                pass

    def read() -> None:
        try:
            out_schema.append(reader.schema)
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    break
                if chunk.data is not None:
                    out_batches.append(chunk.data)
                    if on_batch is not None:
                        on_batch(chunk.data)
                if chunk.app_metadata is not None and chunk.app_metadata.size > 0:
                    try:
                        final.update(json.loads(chunk.app_metadata.to_pybytes()))
                    except ValueError as e:
                        raise ProtocolError(f"the server's final message is not JSON: {e}") from e
        except BaseException as e:  # noqa: BLE001
            state["read_error"] = e
            failed.set()

    wt = threading.Thread(target=write, name="fdag-exchange-writer", daemon=True)
    rt = threading.Thread(target=read, name="fdag-exchange-reader", daemon=True)
    wt.start()
    rt.start()
    try:
        while rt.is_alive():
            rt.join(0.05)
            if failed.is_set():
                break
    except BaseException:
        # KeyboardInterrupt (or anything else) on the caller's thread: cancel the call.
        failed.set()
        _cancel(reader, writer, wt, rt)
        raise
    if failed.is_set():
        _cancel(reader, writer, wt, rt)
        werr, rerr = state["write_error"], state["read_error"]
        # A failing source (the caller's own reader) is the root cause: the
        # read side then only sees the cancellation it caused.
        if werr is not None and not isinstance(werr, (flight.FlightError, pa.ArrowException)):
            raise werr
        err = rerr if rerr is not None else werr
        if isinstance(err, FdagError):
            raise err
        raise from_flight_error(err) from err
    wt.join()
    try:
        writer.close()
    except Exception as e:
        raise from_flight_error(e) from e
    if not out_schema:
        raise ProtocolError("the server sent no schema")
    return _ExchangeOutcome(out_schema[0], out_batches, final, state["rows_sent"])


def _cancel(reader: Any, writer: Any, *threads: threading.Thread) -> None:
    try:
        reader.cancel()
    except Exception:
        pass
    for t in threads:
        t.join(5)
    try:
        writer.close()
    except Exception:
        pass


# ---------------------------------------------------------------------------
# The client


def _read_certs(value: Union[bytes, str, os.PathLike, None]) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    text = os.fspath(value)
    if isinstance(text, str) and "-----BEGIN" in text:
        return text.encode("ascii")
    with open(text, "rb") as f:
        return f.read()


class FeatureClient:
    """Client of an fdag feature server over Arrow Flight.

    Args:
        location: ``grpc://host:port`` (plain), ``grpc+tls://host:port`` (TLS),
            or ``host:port``. Defaults to the server's default address.
        token: a bearer token, sent as ``authorization: Bearer <token>`` on
            every call (for servers started with ``--auth-token``).
        tls_root_certs: PEM bytes, PEM text or a path to a PEM file of the CA
            (or self-signed certificate) to trust; implies TLS.
        override_hostname: the host name to check the server certificate
            against, when it differs from the one in ``location``.
        timeout: default deadline of every call, in seconds (None: no deadline).

    Example::

        client = FeatureClient()
        result = client.compute(trades, {"ret_1": "log(close) - log(lag(close, 1))",
                                         "vol": "rolling_std(ret_1, 100)"})
        result.errors      # {} when every feature succeeded
        result.table       # pyarrow.Table aligned with `trades`
    """

    def __init__(
        self,
        location: str = DEFAULT_LOCATION,
        token: Optional[str] = None,
        tls_root_certs: Union[bytes, str, os.PathLike, None] = None,
        *,
        override_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> None:
        if location.startswith(("http://", "https://")):
            scheme = "grpc+tls" if location.startswith("https://") else "grpc"
            raise FdagError(
                f"location {location!r}: fdag speaks Arrow Flight (gRPC), not HTTP; "
                f"use {scheme}://{location.split('://', 1)[1]}"
            )
        if "://" not in location:
            location = ("grpc+tls://" if tls_root_certs is not None else "grpc://") + location
        elif tls_root_certs is not None and location.startswith("grpc://"):
            location = "grpc+tls://" + location[len("grpc://"):]
        self.location = location
        self.timeout = timeout
        self._token = token
        self._tls = location.startswith(("grpc+tls://", "grpcs://"))
        kwargs: Dict[str, Any] = {}
        certs = _read_certs(tls_root_certs)
        if certs is not None:
            kwargs["tls_root_certs"] = certs
        if override_hostname is not None:
            kwargs["override_hostname"] = override_hostname
        self._client = flight.FlightClient(location, **kwargs)

    # -- plumbing -------------------------------------------------------
    def _options(self, timeout: Optional[float] = None) -> flight.FlightCallOptions:
        headers = []
        if self._token is not None:
            headers.append((b"authorization", f"Bearer {self._token}".encode("utf-8")))
        t = timeout if timeout is not None else self.timeout
        return flight.FlightCallOptions(headers=headers, timeout=t)

    def _action(self, name: str, body: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None) -> Any:
        payload = json.dumps(body if body is not None else {}).encode("utf-8")
        try:
            results = list(self._client.do_action(flight.Action(name, payload), self._options(timeout)))
        except Exception as e:
            raise from_flight_error(e) from e
        if not results:
            return None
        raw = results[0].body.to_pybytes()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ProtocolError(f"action {name!r}: the answer is not JSON: {raw[:200]!r}") from e

    def close(self) -> None:
        """Close the connection."""
        try:
            self._client.close()
        except Exception:  # pragma: no cover
            pass

    def __enter__(self) -> "FeatureClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        auth = "bearer token" if self._token is not None else "none"
        return f"FeatureClient(location={self.location!r}, auth={auth}, tls={'on' if self._tls else 'off'})"

    # -- actions --------------------------------------------------------
    def health(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The server's health report (``{"status": "ok", ...}``)."""
        return self._action("health", {}, timeout) or {}

    def list_actions(self) -> List[Tuple[str, str]]:
        """(name, description) of the actions the server offers."""
        try:
            return [(a.type, a.description) for a in self._client.list_actions(self._options())]
        except Exception as e:
            raise from_flight_error(e) from e

    def list_features(self) -> FeatureCatalog:
        """The built-in functions and registered feature types of the server."""
        raw = self._action("list_features", {}) or {}
        return FeatureCatalog(
            functions=list(raw.get("functions") or []),
            feature_types=list(raw.get("feature_types") or []),
            raw=raw,
        )

    def explain(
        self,
        features: FeaturesLike,
        columns: Union[Mapping[str, str], pa.Schema, DataLike, Sequence[str], None] = None,
        *,
        aliases: Optional[Mapping[str, str]] = None,
    ) -> Explanation:
        """The DAG the server builds for ``features`` (after CSE, with lookbacks).

        ``columns`` (optional) is the input the features are meant for: a
        table or DataFrame (its schema is used, not its rows), a pyarrow
        Schema, a dict name -> type, or a list of column names. With it,
        identifiers are checked against those columns (``clsoe`` is an
        unknown column, with a caret and a suggestion); without it any
        unknown name is taken as a column.

        Raises :class:`InvalidRequest` with the server's message for bad features.
        """
        body: Dict[str, Any] = {"features": normalize_features(features)}
        if aliases:
            body["aliases"] = dict(aliases)
        if columns is not None:
            if isinstance(columns, (list, tuple)) and all(isinstance(c, str) for c in columns):
                body["columns"] = {c: "" for c in columns}
            else:
                body["columns"] = _columns_of(columns)
        with carets_for(body["features"]):
            raw = self._action("explain", body) or {}
        return Explanation(text=str(raw.get("text", "")), dot=str(raw.get("dot", "")), raw=raw)

    def validate(
        self,
        features: FeaturesLike,
        columns: Union[Mapping[str, str], pa.Schema, DataLike, None] = None,
        *,
        time_column: str = "event_time",
        symbol_column: Optional[str] = "symbol",
        aliases: Optional[Mapping[str, str]] = None,
    ) -> Validation:
        """Check ``features`` without computing them.

        ``columns`` (optional) describes the input: a dict name -> Arrow type
        name, a pyarrow Schema, or a table/DataFrame whose schema is used.
        """
        body = self._command(features, time_column, symbol_column, aliases)
        if columns is not None:
            body["columns"] = _columns_of(columns)
        raw = self._action("validate", body) or {}
        return Validation(statuses=caret_statuses(parse_statuses(raw.get("features")), body["features"]), raw=raw)

    # -- compute --------------------------------------------------------
    @staticmethod
    def _command(
        features: FeaturesLike,
        time_column: str,
        symbol_column: Optional[str],
        aliases: Optional[Mapping[str, str]],
    ) -> Dict[str, Any]:
        cmd: Dict[str, Any] = {"features": normalize_features(features), "time_column": time_column}
        if symbol_column:
            cmd["symbol_column"] = symbol_column
        if aliases:
            cmd["aliases"] = dict(aliases)
        return cmd

    def compute(
        self,
        data: DataLike,
        features: FeaturesLike,
        *,
        time_column: str = "event_time",
        symbol_column: Optional[str] = "symbol",
        aliases: Optional[Mapping[str, str]] = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        sort: bool = True,
        keep: KeepLike = None,
        timeout: Optional[float] = None,
        progress: ProgressLike = None,
    ) -> ComputeResult:
        """Compute ``features`` over ``data`` on the server.

        Args:
            data: a pyarrow Table, RecordBatch or RecordBatchReader, a pandas or
                polars DataFrame (or LazyFrame), or an iterable of RecordBatches.
            features: spec dicts (``{"name", "formula"}`` or ``{"name", "type",
                "inputs", "params"}``), a dict name -> formula, or
                ``"name=formula"`` strings.
            time_column: the event time column (a timestamp).
            symbol_column: the symbol column; windows never cross symbols.
                A column absent from the data means one symbol.
            aliases: extra formula names for columns, e.g. ``{"close": "px"}``.
            chunk_rows: rows per batch sent to the server.
            keep: input columns to return beside the features, aligned:
                ``"all"`` or a list of names (default: only the time and
                symbol columns). A pandas frame's index is kept either way
                (``result.to_pandas()``), and a DatetimeIndex serves as the
                time column when the frame has none.
            sort: sort rows by (symbol, time), stably, before sending, and
                restore the input order in the result. With ``sort=False``
                each symbol's rows must already be in time order across
                batches (the server rejects the request otherwise) and a
                RecordBatchReader is streamed without being read into memory
                (with ``sort=True`` it is read whole first).
            timeout: deadline of the call in seconds (default: the client's).
            progress: a bar of the rows computed (see :mod:`fdag.progress`);
                the default shows one in notebooks for inputs of at least
                ``PROGRESS_MIN_ROWS`` rows or of unknown length (a stream).

        Returns:
            A :class:`ComputeResult`: ``.table`` aligned row for row with the
            input, ``.statuses`` / ``.errors`` per feature.

        Raises:
            InvalidRequest: every feature failed, or the input was rejected
                (missing time column, rows out of order...), with the server's message.
            Unauthenticated, ServerUnavailable, Timeout, ...: see :mod:`fdag.errors`.
        """
        if chunk_rows <= 0:
            raise ValueError("chunk_rows must be positive")
        command = self._command(features, time_column, symbol_column, aliases)
        t0 = time.perf_counter()
        index = None
        if _module_of(data) == "pandas" and hasattr(data, "columns"):
            framed = from_pandas(data, time_column)
            source, index = framed.table, framed.index
        else:
            source = _as_arrow(data)
        inverse: Optional[pa.Array] = None
        if isinstance(source, pa.RecordBatchReader) and (sort or keep is not None):
            source = source.read_all()
        original = None
        sent: Optional[pa.Table] = None
        if isinstance(source, pa.Table):
            source = original = decode_dictionaries(source)
            check_times(source, time_column, index)
            kept = keep_columns(source, keep, [s["name"] for s in command["features"]])
            if sort:
                order = _sort_order(source, time_column, symbol_column)
                if order is not None:
                    source = source.take(order)
                    inverse = _inverse(order)
            in_schema = source.schema
            batches: Iterable[pa.RecordBatch] = source.to_batches(max_chunksize=chunk_rows)
            n_input: Optional[int] = source.num_rows
            # The time and symbol columns are here already: the server
            # need not send them back (9% of the answer's bytes for 24
            # features; _with_keys puts them back).
            sent = source
            command["keys"] = False
        else:
            in_schema = source.schema
            batches = source
            n_input = None
        send_schema = _friendly_schema(in_schema)
        stream = _rechunk(_cast_batches(batches, send_schema), chunk_rows)
        if progress is None and n_input is not None and n_input < PROGRESS_MIN_ROWS:
            progress = False
        with carets_for(command["features"]), \
                progress_bar(progress, total=n_input, desc="compute", unit="rows", unit_scale=True) as bar:
            try:
                outcome = _exchange(self._client, self._options(timeout), command, send_schema or in_schema, stream,
                                    on_batch=lambda b: bar.update(b.num_rows))
            except InvalidRequest as e:
                # A server older than "keys" refuses the command before
                # sending anything back: ask again, keys included.
                if sent is None or '"keys"' not in str(e):
                    raise
                del command["keys"]
                stream = _rechunk(_cast_batches(sent.to_batches(max_chunksize=chunk_rows), send_schema), chunk_rows)
                sent = None
                outcome = _exchange(self._client, self._options(timeout), command, send_schema or in_schema, stream,
                                    on_batch=lambda b: bar.update(b.num_rows))
        table = pa.Table.from_batches(outcome.batches, schema=outcome.schema)
        if n_input is None:
            n_input = outcome.rows_sent
        if table.num_rows != n_input:
            raise ProtocolError(f"the server answered {table.num_rows} rows for {n_input} input rows")
        if sent is not None:
            table = _with_keys(table, sent, send_schema, time_column, symbol_column)
        if inverse is not None:
            table = table.take(inverse)
        if original is not None and kept:
            table = with_kept(table, original, kept)
        md = outcome.schema.metadata or {}
        statuses = parse_statuses(outcome.final.get("statuses")) or parse_statuses(md.get(METADATA_KEY))
        statuses = caret_statuses(statuses, command["features"])
        return ComputeResult(
            table=table,
            statuses=statuses,
            rows_in=outcome.final.get("rows_in"),
            rows_out=outcome.final.get("rows_out"),
            elapsed=time.perf_counter() - t0,
            server_metadata=dict(outcome.final),
            index=index,
        )

    def exchange_raw(
        self,
        command: Union[Mapping[str, Any], bytes],
        data: DataLike,
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        timeout: Optional[float] = None,
    ) -> Tuple[pa.Table, Dict[str, Any]]:
        """A DoExchange with an arbitrary JSON ``command`` (a dict, or raw bytes), sending ``data`` as
        is (no sorting, no spec normalisation). Returns the answer's table and
        the final message's metadata. Used by the benchmark's echo hook
        (``{"echo": true}``) and for protocol tests."""
        source = _as_arrow(data)
        batches = source.to_batches(max_chunksize=chunk_rows) if isinstance(source, pa.Table) else source
        send_schema = _friendly_schema(source.schema)
        stream = _rechunk(_cast_batches(batches, send_schema), chunk_rows)
        outcome = _exchange(self._client, self._options(timeout), command, send_schema or source.schema, stream)
        return pa.Table.from_batches(outcome.batches, schema=outcome.schema), outcome.final

    # -- warehouse ------------------------------------------------------
    def fetch(
        self,
        symbols: Union[str, Sequence[str]],
        start: TimeLike,
        end: TimeLike,
        features: FeaturesLike,
        *,
        parallel: bool = True,
        source: str = "cdm_trade_enriched",
        shard: Optional[str] = None,
        aliases: Optional[Mapping[str, str]] = None,
        max_warmup_gap: Optional[str] = None,
        max_workers: Optional[int] = None,
        on_empty: str = "warn",
        timeout: Optional[float] = None,
        progress: ProgressLike = None,
    ) -> ComputeResult:
        """Features of ``symbols`` over ``[start, end)`` computed by the server
        from its warehouse source table, warmup included (windows and lags see
        the rows before ``start`` that they need; those rows are not returned).

        The server splits the request into one endpoint per (symbol, shard)
        (``shard``: a duration such as ``"1d"``, the server's default when
        None); with ``parallel=True`` they are fetched concurrently. The rows
        come back ordered by symbol (in the order asked) and time.
        ``progress`` counts the endpoints fetched (see :mod:`fdag.progress`;
        by default a bar in notebooks when there are several).

        ``max_warmup_gap`` (a duration such as ``"30d"``) bounds how far
        before ``start`` the warmup reads: a symbol quiet for years starts its
        windows short instead of reading its old rows (default: as far back
        as the windows need).

        A symbol without rows in the range warns (:class:`fdag.EmptyResultWarning`
        naming it and the source table); ``on_empty="error"`` raises
        :class:`fdag.EmptyResult`, ``"ignore"`` says nothing.

        Raises:
            InvalidRequest: bad features, times or table; NotFound: no such
            source table. A single failed feature never raises: see ``.errors``.
        """
        check_on_empty(on_empty)
        t0 = time.perf_counter()
        cmd: Dict[str, Any] = {
            "features": normalize_features(features),
            "symbols": symbols_list(symbols),
            "start": iso_time(start, "start"),
            "end": iso_time(end, "end"),
            "source": source,
        }
        if shard:
            cmd["shard"] = shard
        if aliases:
            cmd["aliases"] = dict(aliases)
        if max_warmup_gap:
            cmd["max_warmup_gap"] = max_warmup_gap
        options = self._options(timeout)
        try:
            info = self._client.get_flight_info(flight.FlightDescriptor.for_command(ticket_for(cmd)), options)
        except Exception as e:
            raise from_flight_error(e) from e
        if progress is None and len(info.endpoints) < 2:
            progress = False
        notices: List[Dict[str, Any]] = []
        table = read_endpoints(self._client, options, info, parallel, max_workers, progress, notices)
        if notices:  # the server says which symbols and ranges had no source rows
            report_notices(notices, on_empty, cmd["start"], cmd["end"])
        else:  # a server without in-band notices: judge from the rows
            check_read(source, {"symbols": cmd["symbols"], "start": cmd["start"], "end": cmd["end"]}, table,
                       on_empty, cmd["symbols"])
        md = info.schema.metadata or {}
        return ComputeResult(
            table=table,
            statuses=parse_statuses(md.get(METADATA_KEY)),
            rows_out=table.num_rows,
            elapsed=time.perf_counter() - t0,
            server_metadata={"endpoints": len(info.endpoints)},
        )

    def run_batch(
        self,
        symbols: Union[str, Sequence[str]],
        start: TimeLike,
        end: TimeLike,
        features: FeaturesLike,
        **kwargs: Any,
    ) -> "RunSummary":
        """A batch run on the server, as ``fdag run``: ``features`` of ``symbols``
        over ``[start, end)``, one shard per (symbol, ``shard``), committed to
        ft_features in one transaction. Progress shows with tqdm as the server
        streams it (``progress=``, see :mod:`fdag.progress`); returns the
        :class:`fdag.batch_run.RunSummary`. Keyword arguments: ``source``,
        ``shard`` (e.g. ``"1d"``), ``aliases``, ``max_warmup_gap`` (as in :meth:`fetch`), ``concurrency``, ``retries``,
        ``commit_partial`` (commit the good shards, record failed ones as
        status error), ``on_empty`` (for symbols or shards without source
        rows: "warn", "error", "ignore"), ``timeout``, ``progress``.

        Raises:
            InvalidRequest: bad features, times or body; NotFound: no such
            source table; ResourceExhausted: the server runs its maximum of
            batch runs; ServerError: a shard failed after its retries (nothing
            was committed).
        """
        from .batch_run import run_batch

        return run_batch(self, symbols, start, end, features, **kwargs)

    def bars(self, kinds: Union[str, Sequence[str]], symbols: Union[str, Sequence[str]], start: TimeLike, end: TimeLike,
             **kwargs: Any) -> Dict[str, Any]:
        """Bar tables on the server, as ``fdag bars``: see :func:`fdag.process.bars`."""
        from .process import bars

        return bars(self, kinds, symbols, start, end, **kwargs)

    def labels(self, methods: Union[str, Sequence[str]], symbols: Union[str, Sequence[str]], start: TimeLike,
               end: TimeLike, **kwargs: Any) -> Dict[str, Any]:
        """Labels into cdm_labels on the server, as ``fdag labels``: see :func:`fdag.process.labels`."""
        from .process import labels

        return labels(self, methods, symbols, start, end, **kwargs)

    def read_table(
        self,
        table: str = "ft_features",
        *,
        symbols: Union[str, Sequence[str], None] = None,
        start: Optional[TimeLike] = None,
        end: Optional[TimeLike] = None,
        feature_names: Optional[Sequence[str]] = None,
        where: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
        columns: Optional[Sequence[str]] = None,
        on_empty: str = "warn",
        timeout: Optional[float] = None,
        progress: ProgressLike = None,
    ) -> pa.Table:
        """Rows of a warehouse table, filtered on the server (pushed down to
        the Iceberg scan): ``symbols``, the time range ``[start, end)`` on the
        table's time column, for ``ft_features`` the ``feature_names``, and
        ``where`` (string column -> value or values, e.g.
        ``{"feature_version": "v1.0"}``). ``columns`` projects. Rows come in
        time order (time, symbol, row identity, feature name). ``progress``
        counts the rows received (see :mod:`fdag.progress`; by default a bar
        in notebooks once a second batch arrives, so small reads stay quiet).

        A read that matches no rows, or none for some of the ``symbols`` or
        ``feature_names``, warns (:class:`fdag.EmptyResultWarning`, naming
        them and the table); ``on_empty="error"`` raises
        :class:`fdag.EmptyResult` instead, ``"ignore"`` says nothing."""
        check_on_empty(on_empty)
        flt: Dict[str, Any] = {}
        if symbols is not None:
            flt["symbols"] = symbols_list(symbols)
        if start is not None:
            flt["start"] = iso_time(start, "start")
        if end is not None:
            flt["end"] = iso_time(end, "end")
        if feature_names is not None:
            flt["feature_names"] = [str(f) for f in feature_names]
        if where:
            flt["equal"] = {str(k): [v] if isinstance(v, str) else [str(x) for x in v] for k, v in where.items()}
        cmd: Dict[str, Any] = {"table": table, "filter": flt}
        if columns is not None:
            cmd["columns"] = [str(c) for c in columns]
        try:
            reader = self._client.do_get(flight.Ticket(ticket_for(cmd)), self._options(timeout))
            out = read_with_progress(reader, progress, desc=f"read {table}")
        except FdagError:
            raise
        except Exception as e:
            raise from_flight_error(e) from e
        check_read(table, flt, out, on_empty, flt.get("symbols"), flt.get("feature_names"))
        return out

    def read_features(
        self,
        symbols: Union[str, Sequence[str], None] = None,
        start: Optional[TimeLike] = None,
        end: Optional[TimeLike] = None,
        names: Optional[Sequence[str]] = None,
        *,
        version: Optional[str] = None,
        on_empty: str = "warn",
        timeout: Optional[float] = None,
    ) -> pa.Table:
        """Stored features (ft_features) as the wide table: one row per
        source row, joined on (symbol, timestamp, seq), columns
        ``event_time, symbol, seq, trade_id`` and one float64 column per
        feature in ``names`` order (None: every stored feature, by name), in
        time order. ``version`` picks one feature version when several are
        stored. Ties (trades sharing a timestamp) stay separate rows, so
        ``to_pandas().pivot(...)`` style reshaping is not needed.

        Empty results warn or raise as in :meth:`read_table`."""
        where = {"feature_version": version} if version else None
        narrow = self.read_table("ft_features", symbols=symbols, start=start, end=end, feature_names=names,
                                 where=where, on_empty=on_empty, timeout=timeout)
        return narrow_to_wide(narrow, names)

    def ingest(
        self,
        data: DataLike,
        table: str = "cdm_trade_enriched",
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        timeout: Optional[float] = None,
    ) -> IngestResult:
        """Append ``data`` (pyarrow, pandas or polars) to a warehouse table in
        one transaction (DoPut): either every row lands or none does.

        Rows whose (symbol, trade_id) the table already holds are skipped and
        counted in ``IngestResult.duplicates``, so sending the same trades
        twice stores them once. Rows without a trade_id cannot be checked:
        they are added, counted in ``without_key``, with a
        :class:`fdag.FdagWarning`."""
        source = _as_arrow(data)
        schema = _friendly_schema(source.schema) or source.schema
        batches = source.to_batches(max_chunksize=chunk_rows) if isinstance(source, pa.Table) else source
        descriptor = flight.FlightDescriptor.for_command(ticket_for({"table": table}))
        try:
            writer, meta_reader = self._client.do_put(descriptor, schema, self._options(timeout))
            for b in _rechunk(_cast_batches(batches, _friendly_schema(source.schema)), chunk_rows):
                writer.write_batch(b)
            writer.done_writing()
            buf = meta_reader.read()
            writer.close()
        except FdagError:
            raise
        except Exception as e:
            raise from_flight_error(e) from e
        result = ingest_result(table, buf.to_pybytes() if buf is not None else None)
        if result.without_key:
            warnings.warn(f"ingest into {table!r}: {result.without_key:,} rows without trade_id were added unchecked; "
                          "sending them again adds them again", FdagWarning, stacklevel=2)
        return result

    def list_tables(self, timeout: Optional[float] = None) -> List[TableInfo]:
        """The warehouse's tables with their schemas (ListFlights)."""
        try:
            return table_infos(self._client.list_flights(b"", self._options(timeout)))
        except Exception as e:
            raise from_flight_error(e) from e


def _type_name(t: pa.DataType) -> str:
    """The server's name for an Arrow type (validate's "columns")."""
    t = _arrow_friendly_type(t)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "timestamp"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_int32(t) or pa.types.is_int16(t) or pa.types.is_int8(t) or pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return "int32"
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_float32(t) or pa.types.is_float16(t):
        return "float32"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float64"
    if pa.types.is_large_string(t):
        return "large_string"
    if pa.types.is_string(t):
        return "string"
    return str(t)


def _columns_of(columns: Any) -> Dict[str, str]:
    if isinstance(columns, Mapping):
        return {str(k): str(v) for k, v in columns.items()}
    if isinstance(columns, pa.Schema):
        schema = columns
    else:
        src = _as_arrow(columns)
        schema = src.schema
    return {f.name: _type_name(f.type) for f in schema}
