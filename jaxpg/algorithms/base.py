"""What every algorithm shares: its registry entry type, the optimizer, metrics.

An algorithm is one module in :mod:`jaxpg.algorithms` that defines its frozen
config dataclass, its loss and ``make_update``, and one :class:`Algorithm` entry in
:mod:`jaxpg.algorithms.registry`. Everything above (trainer, CLI, presets,
checkpoints, distributed training, scripts) reads that registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxpg.state import HParams, TrainState


class Update(NamedTuple):
    """An algorithm's pure pieces for one config, env and pair of networks.

    ``init(key, hparams) → TrainState`` builds the parameters, optimizer state and
    any environment state carried across updates; ``update(state, _) → (state,
    metrics)`` is one update, the body of the trainer's ``lax.scan``.
    """

    init: Callable[[jax.Array, HParams], TrainState]
    update: Callable[[TrainState, Any], tuple[TrainState, dict]]


# ``make_update(config, env, env_params, policy, value, *, sharding) → Update``: env
# is encoded (jaxpg.envs.encode_env), policy/value are jaxpg.Policy pairs (value is
# None when ``config.uses_value`` is False), sharding a NamedSharding of the env axis
# or None.
MakeUpdate = Callable[..., Update]


class Algorithm(NamedTuple):
    """One entry of the algorithm registry."""

    name: str  # the CLI's ``--algo`` value, lower case: "reinforce"
    label: str  # how output and docs spell it: "REINFORCE"
    config_type: type  # its frozen config dataclass
    make_update: MakeUpdate  # builds its Update (see MakeUpdate)
    episodic: bool  # True: one complete episode per env and update (no env state)


def make_optimizer(
    hp: HParams,
    *,
    anneal_updates: int | None = None,
    steps_per_update: int = 1,
) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam, from (possibly traced) hyperparameters.

    The rate is built from ``hp.learning_rate`` (a traced leaf in a sweep). With
    ``anneal_updates`` the rate of update ``u`` (0-based) is
    ``lr · max(1 − u / anneal_updates, 0)``, constant over that update's
    ``steps_per_update`` optimiser steps (PPO: epochs × minibatches).

    Args:
      hp: the :class:`~jaxpg.state.HParams` (``learning_rate``,
        ``max_grad_norm``).
      anneal_updates: anneal the rate linearly to 0 over this many updates; None:
        constant.
      steps_per_update: optimiser steps per update (the annealing's unit).

    Returns:
      The ``optax.GradientTransformation``.
    """
    lr: Any = hp.learning_rate
    if anneal_updates is not None:
        base = hp.learning_rate
        total = float(anneal_updates)

        def lr(count: jax.Array) -> jax.Array:
            update = (count // steps_per_update).astype(jnp.float32)
            return base * jnp.maximum(1.0 - update / total, 0.0)

    return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(lr))


INT32_MAX = 2**31 - 1  # where the per-update step counts saturate


def saturating_add(a: jax.Array, b: jax.Array, limit: int = INT32_MAX) -> jax.Array:
    """``min(a + b, limit)`` of non-negative int32 numbers ``<= limit``, never
    wrapped."""
    return jnp.where(a > limit - b, limit, a + b)


def saturating_product(
    count: jax.Array, factor: int, limit: int = INT32_MAX
) -> jax.Array:
    """``min(count · factor, limit)`` (non-negative int32 and a Python int) as
    int32, never wrapped."""
    count = jnp.asarray(count, jnp.int32)
    if factor == 0:
        return jnp.zeros_like(count)
    return jnp.where(count > limit // factor, limit, count * factor)


def count_steps(mask: jax.Array, limit: int = INT32_MAX) -> jax.Array:
    """The number of non-zero entries of a ``[T, ...]`` mask, int32.

    Counted in integers (a float32 sum is off above 2^24): exact below ``limit``,
    saturated at ``limit`` above. Columns are summed in groups small enough that
    no group's int32 sum can pass ``limit``; the groups (one unless the mask has
    more than ``limit`` entries) are added with :func:`saturating_add`. Only plain
    sums: XLA partitions them over devices, as it does not a custom reduction.
    """
    per_column = (mask != 0).reshape(mask.shape[0], -1).sum(0, dtype=jnp.int32)
    group = max(1, limit // max(1, mask.shape[0]))
    total = None
    for start in range(0, per_column.shape[0], group):
        part = per_column[start : start + group].sum(dtype=jnp.int32)
        total = part if total is None else saturating_add(total, part, limit)
    return jnp.int32(0) if total is None else total


def episode_metrics(
    returns: jax.Array, lengths: jax.Array, finished: jax.Array, state: TrainState
) -> dict[str, jax.Array]:
    """Mean return and length of the episodes that finished in this update.

    Args:
      returns: each episode's undiscounted return (any shape, 0 where not finished
        is not required: entries are weighted by ``finished``).
      lengths: each episode's length, the shape of ``returns``.
      finished: 1 where an episode finished, the shape of ``returns``.
      state: the state before the update; its ``last_episode_*`` are carried when
        no episode finished, so the metrics never hold NaN.
    """
    finished = finished.astype(jnp.float32)
    count = finished.sum()
    safe = jnp.maximum(count, 1.0)

    def total(x):  # selects, not products: unfinished entries may be anything
        return jnp.where(finished > 0, x * finished, 0.0).sum()

    mean_return = jnp.where(count > 0, total(returns) / safe, state.last_episode_return)
    mean_length = jnp.where(count > 0, total(lengths) / safe, state.last_episode_length)
    return {
        "episode_return": mean_return,
        "episode_length": mean_length,
        "episodes_finished": count.astype(jnp.int32),
    }


def initial_state(
    key: jax.Array, params: dict, opt_state: Any, env_state: Any, hp: HParams
) -> TrainState:
    """A :class:`TrainState` at step 0 (episode metrics start at 0)."""
    return TrainState(
        params=params,
        opt_state=opt_state,
        key=key,
        env_state=env_state,
        step=jnp.int32(0),
        hparams=hp,
        last_episode_return=jnp.float32(0.0),
        last_episode_length=jnp.float32(0.0),
    )
