"""Feature-set files: the YAML/JSON files the CLI reads (``fdag compute
--features FILE``), for the client too.

A file holds a list of specs, or an object ``{features: [...]}`` (other keys
such as ``name`` describe the set), exactly as ``ir.ParseSpecs`` reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Union

__all__ = ["load_features", "is_feature_file", "FEATURE_FILE_SUFFIXES"]

FEATURE_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def is_feature_file(value: Any) -> bool:
    """Whether ``value`` names a feature-set file: a path object, or a
    string ending in .yaml/.yml/.json without a formula's ``=``."""
    if isinstance(value, os.PathLike):
        return True
    return isinstance(value, str) and "=" not in value and value.lower().endswith(FEATURE_FILE_SUFFIXES)


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from e
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"{path}: reading YAML feature sets needs PyYAML (pip install 'fdag[yaml]')") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from e


def load_features(path: Union[str, "os.PathLike[str]"]) -> List[Dict[str, Any]]:
    """The specs of a feature-set file (YAML or JSON, by extension): a list
    of specs or ``{features: [...]}``. Pass the result (or the path itself)
    as ``features`` to ``compute``, ``fetch``, ``explain`` or ``validate``.

    Raises ValueError naming the file (and the spec) when it is malformed.
    """
    from .specs import normalize_features

    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as e:
        raise FileNotFoundError(f"feature set {p}: {e.strerror or e}") from e
    data = _parse(p, text)
    if isinstance(data, dict):
        if "features" not in data:
            raise ValueError(f"{p}: expected a list of specs or an object with 'features' (keys: {', '.join(map(str, data))})")
        data = data["features"]
    if not isinstance(data, list):
        raise ValueError(f"{p}: 'features' must be a list of specs, got {type(data).__name__}")
    try:
        return normalize_features(data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{p}: {e}") from e
