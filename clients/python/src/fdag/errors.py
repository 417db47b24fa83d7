"""Exceptions raised by the fdag client.

Every error coming back from the server is re-raised as a subclass of
:class:`FdagError` whose ``str()`` is the server's own message, without the
gRPC wrapping that pyarrow adds ("gRPC returned invalid argument error, with
message: ...", debug contexts, detail codes). The original pyarrow exception
is kept as ``__cause__`` and in :attr:`FdagError.original`.
"""

from __future__ import annotations

import re
from typing import Optional

import pyarrow as pa
import pyarrow.flight as flight

__all__ = [
    "FdagError",
    "InvalidRequest",
    "NotFound",
    "Unauthenticated",
    "PermissionDenied",
    "ResourceExhausted",
    "ServerUnavailable",
    "Timeout",
    "Cancelled",
    "Unsupported",
    "ServerError",
    "ProtocolError",
    "from_flight_error",
    "clean_message",
]


class FdagError(Exception):
    """Base class of every error raised by the fdag client.

    ``str(err)`` is the server's message. ``err.code`` names the gRPC status
    class (``"invalid_argument"``, ``"unauthenticated"``, ...) when known.
    """

    code: str = "unknown"

    def __init__(self, message: str, *, original: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.message = message
        self.original = original

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidRequest(FdagError, ValueError):
    """The server rejected the request: bad feature specs, missing or mistyped
    columns, rows out of time order, a malformed command (gRPC INVALID_ARGUMENT,
    FAILED_PRECONDITION, OUT_OF_RANGE)."""

    code = "invalid_argument"


class NotFound(FdagError, KeyError):
    """A table, feature type or action does not exist (gRPC NOT_FOUND)."""

    code = "not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class Unauthenticated(FdagError):
    """No token, or a token the server does not accept (gRPC UNAUTHENTICATED)."""

    code = "unauthenticated"


class PermissionDenied(FdagError):
    """The token is valid but not allowed to do this (gRPC PERMISSION_DENIED)."""

    code = "permission_denied"


class ResourceExhausted(FdagError):
    """A server limit was hit (gRPC RESOURCE_EXHAUSTED)."""

    code = "resource_exhausted"


class ServerUnavailable(FdagError, ConnectionError):
    """The server cannot be reached, or the TLS handshake failed (gRPC UNAVAILABLE)."""

    code = "unavailable"


class Timeout(FdagError, TimeoutError):
    """The call's deadline passed (gRPC DEADLINE_EXCEEDED)."""

    code = "deadline_exceeded"


class Cancelled(FdagError):
    """The call was cancelled (gRPC CANCELLED)."""

    code = "cancelled"


class Unsupported(FdagError, NotImplementedError):
    """The server does not implement this call or action (gRPC UNIMPLEMENTED)."""

    code = "unimplemented"


class ServerError(FdagError):
    """An internal error on the server (gRPC INTERNAL, UNKNOWN, DATA_LOSS...)."""

    code = "internal"


class ProtocolError(FdagError):
    """The server's answer does not follow the fdag protocol (a client-side check)."""

    code = "protocol"


# "gRPC returned invalid argument error, with message: <msg>" and friends.
_PREFIX = re.compile(
    r"^(?:.*?)(?:gRPC returned [a-z \-]+ error, with message: |gRPC cancelled call, with message: "
    r"|Flight RPC failed with message: |Flight returned [a-z \-]+ error, with message: )",
    re.DOTALL,
)
# Trailers pyarrow appends after the server's message.
_SUFFIXES = (
    ". gRPC client debug context:",
    "\ngRPC client debug context:",
    ". Client context:",
    "\nClient context:",
    ". Detail:",
    "\nDetail:",
)

_KIND_BY_TEXT = (
    ("invalid argument", InvalidRequest),
    ("precondition failed", InvalidRequest),
    ("out-of-range", InvalidRequest),
    ("resource exhausted", ResourceExhausted),
    ("not found", NotFound),
    ("already exists", InvalidRequest),
    ("unauthenticated", Unauthenticated),
    ("permission denied", PermissionDenied),
    ("deadline exceeded", Timeout),
    ("cancelled", Cancelled),
    ("unimplemented", Unsupported),
    ("unavailable", ServerUnavailable),
    ("internal", ServerError),
    ("data loss", ServerError),
    ("aborted", ServerError),
)


def clean_message(text: str) -> str:
    """Strip pyarrow's gRPC wrapping from an error message, keeping the server's text."""
    msg = _PREFIX.sub("", text, count=1)
    cut = len(msg)
    for suffix in _SUFFIXES:
        i = msg.find(suffix)
        if i != -1:
            cut = min(cut, i)
    msg = msg[:cut].strip()
    return msg or text.strip()


def _kind_from_text(text: str) -> Optional[type]:
    m = re.search(r"(?:gRPC|Flight) returned ([a-z \-]+) error, with message", text)
    if m is None:
        if "gRPC cancelled call" in text:
            return Cancelled
        return None
    what = m.group(1)
    for key, cls in _KIND_BY_TEXT:
        if key in what:
            return cls
    return None


def from_flight_error(err: BaseException) -> FdagError:
    """Translate a pyarrow (Flight) exception into the matching :class:`FdagError`."""
    if isinstance(err, FdagError):
        return err
    text = str(err)
    cls: type
    if isinstance(err, flight.FlightUnauthenticatedError):
        cls = Unauthenticated
    elif isinstance(err, flight.FlightUnauthorizedError):
        cls = PermissionDenied
    elif isinstance(err, flight.FlightTimedOutError):
        cls = Timeout
    elif isinstance(err, flight.FlightCancelledError):
        cls = Cancelled
    elif isinstance(err, flight.FlightUnavailableError):
        cls = ServerUnavailable
    elif isinstance(err, (flight.FlightInternalError, flight.FlightServerError)):
        cls = _kind_from_text(text) or ServerError
    elif isinstance(err, pa.ArrowInvalid):
        cls = _kind_from_text(text) or InvalidRequest
    elif isinstance(err, (pa.ArrowKeyError, KeyError)):
        cls = NotFound
    elif isinstance(err, pa.ArrowNotImplementedError):
        cls = Unsupported
    else:
        cls = _kind_from_text(text) or FdagError
    return cls(clean_message(text), original=err)
