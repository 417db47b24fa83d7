"""fdag: a pyarrow client for the fdag feature server (Arrow Flight).

>>> from fdag import FeatureClient
>>> client = FeatureClient("grpc://127.0.0.1:8815")
>>> result = client.compute(trades, {"ret_1": "log(close) - log(lag(close, 1))"})
>>> result            # rows, features ok / failed with the server's messages
>>> result.table      # pyarrow.Table aligned row for row with `trades`
>>> result.plot(["ret_1"], price=trades["trade_price"], symbol="BTCUSDT")

In Jupyter: ``%load_ext fdag`` for the ``%%fdag`` cell magic (fdag.magic);
long calls show progress bars (fdag.progress, ``progress=False`` to hide).
"""

from .client import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_LOCATION,
    Explanation,
    FeatureCatalog,
    FeatureClient,
    Validation,
)
from .errors import (
    Cancelled,
    FdagError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ResourceExhausted,
    ServerError,
    ServerUnavailable,
    Timeout,
    Unauthenticated,
    Unsupported,
)
from .batch_run import RunSummary
from .featureset import load_features
from .narrow import JOIN_KEY, narrow_to_wide
from .notices import EmptyResult, EmptyResultWarning, FdagWarning
from .result import METADATA_KEY, ComputeResult, FeatureStatus
from .specs import normalize_features
from .warehouse import DroppedColumnsWarning, IngestResult, TableInfo

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # noqa: ANN001 - IPython's hook
    """``%load_ext fdag`` registers the ``%%fdag`` cell magic (see :mod:`fdag.magic`)."""
    from .magic import load_ipython_extension as load

    load(ipython)


__all__ = [
    "FeatureClient",
    "RunSummary",
    "ComputeResult",
    "FeatureStatus",
    "Explanation",
    "Validation",
    "FeatureCatalog",
    "TableInfo",
    "IngestResult",
    "normalize_features",
    "narrow_to_wide",
    "load_features",
    "JOIN_KEY",
    "FdagWarning",
    "EmptyResultWarning",
    "DroppedColumnsWarning",
    "EmptyResult",
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
    "DEFAULT_LOCATION",
    "DEFAULT_CHUNK_ROWS",
    "METADATA_KEY",
]
