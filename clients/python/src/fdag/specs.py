"""Normalising the ``features`` argument into fdag feature specs."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Union

__all__ = ["FeaturesLike", "normalize_features"]

#: What :meth:`FeatureClient.compute` and friends accept as ``features``:
#: a list of spec dicts, a dict name -> formula (or name -> spec dict),
#: a list of ``"name=formula"`` strings or ``(name, formula)`` pairs, a
#: single ``"name=formula"`` string, a feature set ``{"features": [...]}``,
#: or the path of a YAML/JSON feature-set file (see :mod:`fdag.featureset`).
FeaturesLike = Union[
    Mapping[str, Union[str, Mapping[str, Any]]],
    Iterable[Union[Mapping[str, Any], str, "tuple[str, str]"]],
    str,
]

# name = formula, where the '=' is not the first half of '=='.
_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.:\-]*)\s*=(?!=)\s*(.+?)\s*$", re.DOTALL)


def _from_string(text: str) -> Dict[str, Any]:
    m = _ASSIGN.match(text)
    if m is None:
        raise ValueError(
            f"feature {text!r} is not of the form 'name=formula' "
            "(pass a dict {name: formula} or spec dicts instead)"
        )
    return {"name": m.group(1), "formula": m.group(2)}


def _from_pair(name: str, value: Any) -> Dict[str, Any]:
    if isinstance(value, str):
        return {"name": name, "formula": value}
    if isinstance(value, Mapping):
        spec = dict(value)
        spec.setdefault("name", name)
        if spec["name"] != name:
            raise ValueError(f"feature {name!r}: the spec's name is {spec['name']!r}")
        return spec
    raise TypeError(f"feature {name!r}: expected a formula string or a spec dict, got {type(value).__name__}")


def normalize_features(features: FeaturesLike) -> List[Dict[str, Any]]:
    """Turn any accepted ``features`` value into a list of spec dicts.

    >>> normalize_features({"ret_1": "log(close) - log(lag(close, 1))"})
    [{'name': 'ret_1', 'formula': 'log(close) - log(lag(close, 1))'}]
    >>> normalize_features(["m=rolling_mean(close, 20)"])
    [{'name': 'm', 'formula': 'rolling_mean(close, 20)'}]
    """
    if features is None:
        raise TypeError("features is required")
    from .featureset import is_feature_file, load_features

    if is_feature_file(features):
        return load_features(features)  # type: ignore[arg-type]
    if isinstance(features, str):
        return [_from_string(features)]
    if isinstance(features, Mapping):
        if "name" in features and ("formula" in features or "type" in features):
            return [dict(features)]  # one spec dict
        if isinstance(features.get("features"), (list, tuple)):
            # a feature set as the CLI's files hold it: {name: ..., features: [...]}
            return normalize_features(features["features"])
        return [_from_pair(str(k), v) for k, v in features.items()]
    out: List[Dict[str, Any]] = []
    for item in features:
        if isinstance(item, str):
            out.append(_from_string(item))
        elif isinstance(item, Mapping):
            spec = dict(item)
            if "name" not in spec:
                raise ValueError(f"feature spec {spec!r} has no 'name'")
            out.append(spec)
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(_from_pair(str(item[0]), item[1]))
        else:
            raise TypeError(
                f"cannot use {item!r} as a feature: pass a spec dict, 'name=formula' or (name, formula)"
            )
    if not out:
        raise ValueError("no features requested")
    return out
