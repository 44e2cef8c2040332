"""A sweep's programs: the keys and HParams of its ``C · K`` states, its init
program and its greedy evaluation.

Compiled like any run's (:func:`jaxpg.run.programs.compile_programs`): the init
program takes the seed and the states' :class:`jaxpg.HParams` and makes the keys
inside, state ``m = c · K + k`` getting the key seed index k of ``--seeds K``
gets; the evaluation takes (seed, update, params) and makes its key inside, each
state evaluated with that seed index's key, so each configuration's numbers equal
those of its own ``--seeds K`` run (tests/test_sweep_cli.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg.evaluate import episode_returns
from jaxpg.run.programs import run_keys
from jaxpg.run.sweep import Sweep, sweep_configs
from jaxpg.state import HParams, hparams

__all__ = [
    "SweepKeys",
    "sweep_evaluator",
    "sweep_hparams",
    "sweep_init",
    "sweep_init_keys",
    "sweep_keys",
]


class SweepKeys(NamedTuple):
    """The keys and :class:`HParams` of a sweep's ``C · K`` states."""

    init: jax.Array  # [C · K] initialisation keys (one unbatched key: C = K = 1)
    eval: jax.Array  # the greedy evaluations' key, that of ``--seeds K``
    hparams: HParams  # configuration c's values in state c · K + k


def sweep_init_keys(seed: Any, sweep: Sweep) -> jax.Array:
    """The initialisation keys of a sweep's states (traceable: made inside the
    sweep's init program from the seed).

    State ``m = c · K + k`` gets the key of seed index k of ``--seed seed
    --seeds K`` (:func:`jaxpg.run.programs.run_keys`); one state (C = K = 1) is
    unbatched, as a one-seed run.

    Args:
      seed: the run's seed (an int, or a traced ``uint32``).
      sweep: the sweep.

    Returns:
      ``[C · K]`` keys, or one key.
    """
    base = run_keys(seed, sweep.seeds).init
    if sweep.members == 1:
        return base
    keys = base if sweep.seeds > 1 else base[None]
    return jnp.concatenate([keys] * sweep.size)


def sweep_hparams(config: Any, sweep: Sweep) -> HParams:
    """The :class:`HParams` of a sweep's states, configuration c's in state
    ``c · K + k`` (``[C · K]`` leaves; unbatched when C = K = 1).

    Args:
      config: the base config.
      sweep: the sweep.

    Returns:
      The HParams the sweep's init program takes.
    """
    per_config = [hparams(c) for c in sweep_configs(config, sweep)]
    if sweep.members == 1:
        return per_config[0]
    return jax.tree.map(
        lambda *x: jnp.repeat(jnp.stack(x), sweep.seeds, axis=0), *per_config
    )


def sweep_keys(config: Any, seed: Any, sweep: Sweep) -> SweepKeys:
    """The keys and :class:`HParams` of the ``C · K`` states of a sweep.

    The keys are :func:`sweep_init_keys`'s, the evaluation key that of ``--seeds
    K`` (the same for any number of seeds).

    Args:
      config: the base config.
      seed: the run's seed.
      sweep: the sweep.

    Returns:
      A :class:`SweepKeys`.
    """
    return SweepKeys(
        sweep_init_keys(seed, sweep),
        run_keys(seed, sweep.seeds).eval,
        sweep_hparams(config, sweep),
    )


def sweep_init(trainer: Any, sweep: Sweep) -> Callable:
    """A sweep's init program (traceable): ``(seed, hparams) -> TrainState``.

    The keys are made inside (:func:`sweep_init_keys`); ``hparams`` is
    :func:`sweep_hparams`'s, an argument so one program serves any values.

    Args:
      trainer: the run's :class:`jaxpg.Trainer` (of the base config).
      sweep: the sweep.

    Returns:
      The init function.
    """
    init = trainer.init if sweep.members == 1 else jax.vmap(trainer.init)
    return lambda seed, hp: init(sweep_init_keys(seed, sweep), hp)


def sweep_evaluator(
    policy: Any, env: Any, env_params: Any, episodes: int, sweep: Sweep
) -> Callable:
    """The greedy evaluation of a sweep's states (traceable, not jitted).

    State ``c · K + k`` is evaluated with the key seed index k of a ``--seeds K``
    run gets, so each configuration's evaluations equal that run's.

    Args:
      policy: the :class:`jaxpg.Policy`.
      env: the environment.
      env_params: its parameters.
      episodes: episodes per evaluation.
      sweep: the sweep.

    Returns:
      ``(key, params) -> [C · K, episodes]`` greedy returns.
    """

    def one(key, params):
        return episode_returns(key, policy, params["policy"], env, env_params, episodes)

    def evaluate(key, params):
        if sweep.members == 1:
            return one(key, params)[None]
        keys = jax.random.split(key, sweep.seeds) if sweep.seeds > 1 else key[None]
        return jax.vmap(one)(jnp.concatenate([keys] * sweep.size), params)

    return evaluate
