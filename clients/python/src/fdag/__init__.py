"""fdag: a pyarrow client for the fdag feature server (Arrow Flight).

>>> from fdag import FeatureClient
>>> client = FeatureClient("grpc://127.0.0.1:8815")
>>> result = client.compute(trades, {"ret_1": "log(close) - log(lag(close, 1))"})
>>> result            # rows, features ok / failed with the server's messages
>>> result.table      # pyarrow.Table aligned row for row with `trades`
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
from .result import METADATA_KEY, ComputeResult, FeatureStatus
from .specs import normalize_features
from .warehouse import IngestResult, TableInfo

__version__ = "0.1.0"

__all__ = [
    "FeatureClient",
    "ComputeResult",
    "FeatureStatus",
    "Explanation",
    "Validation",
    "FeatureCatalog",
    "TableInfo",
    "IngestResult",
    "normalize_features",
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
