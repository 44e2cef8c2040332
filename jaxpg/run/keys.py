"""The keys of a run, made from its seed inside the compiled programs.

(Re-exported by :mod:`jaxpg.run.programs`.)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

__all__ = ["RunKeys", "run_keys"]


class RunKeys(NamedTuple):
    """The keys of a run, both made from ``jax.random.key(seed)`` (inside the
    programs: :func:`run_keys` is traced, so no key is made on the host)."""

    init: jax.Array  # the initialisation key, or [seeds] keys when seeds > 1
    eval: jax.Array  # the greedy evaluations' key (folded with the update count)


def run_keys(seed: Any, seeds: int) -> RunKeys:
    """The initialisation key(s) and evaluation key of a run (traceable).

    Args:
      seed: the run's seed (a Python int, or a traced ``uint32`` inside a
        program: both give the same keys).
      seeds: how many seeds train together (the init key is split when > 1).

    Returns:
      A :class:`RunKeys`.
    """
    key_init, key_eval = jax.random.split(jax.random.key(seed))
    if seeds > 1:
        key_init = jax.random.split(key_init, seeds)
    return RunKeys(key_init, key_eval)
