"""Where a run's arrays live: the ``jax.jit`` keyword arguments of its programs.

Without a mesh every program is the single-device one; with a
:func:`jaxpg.distributed.make_mesh` mesh the state's environments are split over
its devices and the parameters replicated. (Re-exported by
:mod:`jaxpg.run.programs`, which compiles the programs.)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxpg import distributed
from jaxpg.run.keys import run_keys

__all__ = ["Placement", "placement"]


class Placement(NamedTuple):
    """Where a run's arrays live: ``jax.jit`` keyword arguments per program.

    All empty (and ``state`` None) without a mesh: the single-device programs.
    """

    state: Any  # the TrainState's shardings, or None
    init: dict  # jit kwargs of the init program
    run: dict  # jit kwargs of the chunk programs
    small: dict  # jit kwargs of the evaluation


def placement(trainer: Any, mesh: Any, config: Any, seed: int) -> Placement:
    """jit keyword arguments placing the state over ``mesh`` (empty without one).

    Parameters are replicated, carried environments split.

    Args:
      trainer: the run's trainer.
      mesh: a :func:`jaxpg.distributed.make_mesh` mesh, or None.
      config: the algorithm config (its ``num_envs``).
      seed: the run's seed.

    Returns:
      A :class:`Placement`.
    """
    if mesh is None:
        return Placement(None, {}, {}, {})
    key_init = jax.eval_shape(lambda: run_keys(seed, 1).init)
    state_sh = distributed.state_shardings(
        jax.eval_shape(trainer.init, key_init), mesh, config.num_envs
    )
    rep = distributed.replicated(mesh)
    return Placement(
        state=state_sh,
        init={"out_shardings": state_sh},
        run={"in_shardings": (state_sh,), "out_shardings": (state_sh, rep, rep)},
        small={"out_shardings": rep},
    )
