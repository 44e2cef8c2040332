"""Configuration fields and checks shared by every algorithm."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxpg.memory import INT32_MAX

ACTIVATION_NAMES = ("tanh", "relu", "gelu", "elu", "silu")


def fail(field: str, allowed: str, value: Any) -> None:
    """Raises the ``ValueError`` every config check raises: field, allowed, got."""
    raise ValueError(f"{field} must be {allowed}; got {value!r}")


def check_int(field: str, value: Any, minimum: int, maximum: int = INT32_MAX) -> None:
    """An integer in ``[minimum, maximum]``: sizes and counts end up in int32."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or not minimum <= value <= maximum:
        fail(field, f"an integer >= {minimum} and <= {maximum}", value)


def _is_size(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 1 <= value <= INT32_MAX
    )


def check_float(
    field: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = not math.isnan(v)
        ok = ok and (v > low if low_open else v >= low)
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        fail(field, f"a number in {lo}{low}, {high}{hi}", value)


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        fail(field, "one of " + ", ".join(repr(c) for c in choices), value)


def check_product(fields: tuple[str, str], a: int, b: int) -> None:
    """ValueError unless ``a · b`` (e.g. num_steps · num_envs samples) fits int32."""
    if a * b > INT32_MAX:
        raise ValueError(
            f"{fields[0]} · {fields[1]} must be <= {INT32_MAX} (the samples of one "
            f"batch are counted in int32); got {a} · {b} = {a * b}"
        )


def is_size(value: Any) -> bool:
    """An int in ``[1, INT32_MAX]`` (not a bool)."""
    return _is_size(value)


def check_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        fail(field, "True or False", value)


def normalize_hidden_sizes(config: Any) -> None:
    """Accepts a list or a single int for ``hidden_sizes``; stores a tuple."""
    sizes = config.hidden_sizes
    if isinstance(sizes, int) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        fail("hidden_sizes", f"a sequence of positive integers <= {INT32_MAX}", sizes)
    if not all(_is_size(s) for s in sizes):
        fail(
            "hidden_sizes",
            f"a sequence of positive integers <= {INT32_MAX}",
            config.hidden_sizes,
        )
    object.__setattr__(config, "hidden_sizes", sizes)


def check_common(config: Any) -> None:
    """Checks of the fields every config has (see DESIGN: configuration fields)."""
    if config.env_id is not None and not isinstance(config.env_id, str):
        fail("env_id", "a gymnax id string (or None with env=...)", config.env_id)
    check_int("num_envs", config.num_envs, 1)
    check_int("num_updates", config.num_updates, 1)
    check_float(
        "learning_rate",
        config.learning_rate,
        0.0,
        math.inf,
        low_open=True,
        high_open=True,
    )
    check_float("gamma", config.gamma, 0.0, 1.0)
    normalize_hidden_sizes(config)
    check_choice("activation", config.activation, ACTIVATION_NAMES)
    check_float("entropy_coef", config.entropy_coef, 0.0, math.inf, high_open=True)
    check_float("max_grad_norm", config.max_grad_norm, 0.0, math.inf, low_open=True)
    check_float("value_coef", config.value_coef, 0.0, math.inf, high_open=True)
    check_float("init_log_std", config.init_log_std, -10.0, 5.0)
    # A registered config without the field is feed-forward.
    check_int("memory_size", getattr(config, "memory_size", 0), 0)
    for field in ("squash", "state_dependent_std"):  # optional for other configs
        if hasattr(config, field):
            check_bool(field, getattr(config, field))


def replace(config: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` (validates the new config)."""
    return dataclasses.replace(config, **changes)
