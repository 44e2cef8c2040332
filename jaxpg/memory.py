"""Will it fit? Size limits and a lower bound of a program's memory, checked before
anything is compiled.

Shapes are int32 on the device side (step counters, indices), so every size a
config or a flag sets is at most :data:`INT32_MAX`. Within that, a batch can still
be far larger than any memory: :func:`check_fits` compares a *lower bound* of what
a program must hold (e.g. the rollout's observations, T × N of them) with the
memory of the device it runs on, and refuses only what cannot fit, with a message
that names the fields to lower. What passes may still be too large once XLA adds
its own buffers; that error is XLA's.

>>> human_bytes(3 * 2**30)
'3.0 GiB'
"""

from __future__ import annotations

import math
import os
from typing import Any

import jax
import numpy as np

__all__ = [
    "INT32_MAX",
    "available_bytes",
    "check_fits",
    "human_bytes",
    "observation",
    "rollout_bytes",
    "tree_bytes",
]

INT32_MAX = 2**31 - 1


def human_bytes(n: float) -> str:
    """``n`` bytes for people (B, KiB, ..., EiB)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = min(int(math.log(max(n, 1), 1024)), len(units) - 1)
    return f"{n / 1024**power:.1f} {units[power]}" if power else f"{int(n)} B"


def tree_bytes(tree: Any) -> int:
    """Bytes of every leaf of a pytree of arrays or ``jax.ShapeDtypeStruct``."""
    return sum(
        math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize
        for leaf in jax.tree.leaves(tree)
    )


def observation(env: Any, env_params: Any) -> Any:
    """The shapes and dtypes of one observation of ``env`` (nothing is computed)."""
    return jax.eval_shape(lambda: env.reset(jax.random.key(0), env_params)[0])


def rollout_bytes(env: Any, env_params: Any, steps: int, count: int) -> int:
    """A lower bound of a rollout's bytes: ``steps`` × ``count`` observations plus
    the action, reward, log-probability and flags of each step (12 bytes).

    Args:
      env: an environment with gymnax's ``reset(key, params)``.
      env_params: its parameters.
      steps: time steps (T).
      count: environments or episodes (N, times seeds).

    Returns:
      Bytes (a Python int: no overflow).
    """
    return steps * count * (tree_bytes(observation(env, env_params)) + 12)


def available_bytes(device: Any = None) -> int | None:
    """The memory a program on ``device`` can use at most.

    An accelerator's allocator limit (``memory_stats()["bytes_limit"]``), the
    host's physical memory for the CPU; None when neither is known.

    Args:
      device: a JAX device (default: the first one).

    Returns:
      Bytes, or None.
    """
    device = jax.devices()[0] if device is None else device
    try:
        stats = device.memory_stats()
    except Exception:  # some backends do not implement it
        stats = None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    if device.platform == "cpu":
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
            return None
    return None


def check_fits(what: str, needed: int, fix: str, device: Any = None) -> None:
    """ValueError when ``needed`` bytes (a lower bound) exceed the device's memory.

    Args:
      what: what needs them, starting with the field(s) that size it (the
        message starts with it), e.g. ``"num_envs × num_steps: one update's
        batch of 64 × 128 steps"``.
      needed: a lower bound of the bytes, e.g. :func:`tree_bytes` of the batch.
      fix: what to do, e.g. ``"lower num_envs or num_steps"``.
      device: the device it runs on (default: the first one).
    """
    available = available_bytes(device)
    if available is not None and needed > available:
        device = jax.devices()[0] if device is None else device
        raise ValueError(
            f"{what} would take at least {human_bytes(needed)}, more than the "
            f"{human_bytes(available)} of memory of {device.platform} device "
            f"{device.id}; {fix}"
        )
