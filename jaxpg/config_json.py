"""A config dataclass as strict JSON and back: what checkpoints and run folders store.

``{"class": "PPOConfig", "fields": {...}}``: tuples become lists and non-finite
floats strings ("inf"), so the file is strict JSON; reading it back validates the
config (any registered algorithm's).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxpg.algorithms import registry

__all__ = ["config_from_dict", "config_to_dict"]


def _config_types() -> dict[str, type]:
    return {cls.__name__: cls for cls in registry.config_types()}


def _json_value(value: Any) -> Any:
    """Strict JSON: tuples become lists, non-finite floats become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf", "nan"
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    return value


def config_to_dict(config: Any) -> dict:
    """``{"class": name, "fields": {...}}``: a JSON-ready description of a config.

    Args:
      config: a registered algorithm's config dataclass.

    Returns:
      The class name and every field, tuples as lists and non-finite floats as
      strings (strict JSON).

    >>> import jaxpg
    >>> config_to_dict(jaxpg.ReinforceConfig())["fields"]["max_grad_norm"]
    'inf'
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a config dataclass; got {type(config)!r}")
    fields = {
        f.name: _json_value(getattr(config, f.name)) for f in dataclasses.fields(config)
    }
    return {"class": type(config).__name__, "fields": fields}


def _field_value(field: dataclasses.Field, value: Any) -> Any:
    """Undoes :func:`_json_value` using the field's default as the type witness."""
    default = field.default
    if isinstance(default, float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # left for the config's own validation to reject
    if isinstance(value, list):
        return tuple(value)
    return value


def config_from_dict(data: dict) -> Any:
    """The config described by :func:`config_to_dict`'s output (validated).

    Args:
      data: ``{"class": name, "fields": {...}}`` as read from ``config.json``.

    Returns:
      The config object of the registered algorithm whose config class is named.

    Raises:
      ValueError: for an unknown class, unknown fields or invalid values.
    """
    types = _config_types()
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("class"), str)
        or not isinstance(data.get("fields"), dict)
    ):
        raise ValueError(
            'a config must be a JSON object {"class": ..., "fields": {...}}'
        )
    name = data["class"]
    if name not in types:
        raise ValueError(
            f"unknown config class {name!r}; known: {', '.join(sorted(types))}"
        )
    cls = types[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data["fields"]) - set(fields))
    if unknown:
        raise ValueError(f"{name} has no field(s) {', '.join(unknown)}")
    values = {k: _field_value(fields[k], v) for k, v in data["fields"].items()}
    return cls(**values)
