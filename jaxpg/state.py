"""The carried state and hyperparameter pytrees of every trainer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class HParams(NamedTuple):
    """Sweepable numbers: pytree leaves, so ``jax.vmap`` can batch them.

    Fields an algorithm does not use are carried unchanged.
    """

    learning_rate: jax.Array  # [] float32
    gamma: jax.Array  # [] float32: discount γ
    gae_lambda: jax.Array  # [] float32: λ of GAE (A2C, PPO)
    entropy_coef: jax.Array  # [] float32
    value_coef: jax.Array  # [] float32
    clip_eps: jax.Array  # [] float32: PPO's ε
    max_grad_norm: jax.Array  # [] float32: global-norm clip (inf: none)


def hparams(config: Any) -> HParams:
    """The :class:`HParams` of ``config`` (float32 scalars).

    Args:
      config: an algorithm config; a field it lacks gets a neutral default
        (e.g. ``clip_eps`` 0.2 for REINFORCE, which does not use it).

    Returns:
      :class:`HParams` of ``[]`` float32 arrays.

    >>> import jaxpg
    >>> float(jaxpg.hparams(jaxpg.ReinforceConfig(learning_rate=0.1)).learning_rate)
    0.10000000149011612
    """

    def get(name: str, default: float) -> jax.Array:
        return jnp.asarray(getattr(config, name, default), jnp.float32)

    return HParams(
        learning_rate=get("learning_rate", 1e-3),
        gamma=get("gamma", 1.0),
        gae_lambda=get("gae_lambda", 1.0),
        entropy_coef=get("entropy_coef", 0.0),
        value_coef=get("value_coef", 0.5),
        clip_eps=get("clip_eps", 0.2),
        max_grad_norm=get("max_grad_norm", float("inf")),
    )


class TrainState(NamedTuple):
    """Everything a run carries from one update to the next."""

    params: dict  # {"policy": policy params, "value": critic params or None}
    opt_state: Any  # optax state of the whole params dict
    key: jax.Array  # typed PRNG key
    env_state: Any  # environment state carried across updates (None: episodic)
    step: jax.Array  # [] int32: updates done
    hparams: HParams  # the sweepable numbers of this run
    last_episode_return: jax.Array  # [] float32: carried when no episode finished
    last_episode_length: jax.Array  # [] float32: carried likewise


class TrainResult(NamedTuple):
    """What ``train(key)`` returns."""

    params: dict  # state.params: what act / evaluate take
    state: TrainState  # the final state (resume from it)
    metrics: dict  # name → [num_updates] array


class Trainer(NamedTuple):
    """``init(key, hparams=None) → TrainState``; ``run(state, n) → (state, metrics)``.

    ``run`` applies ``n`` updates in one ``lax.scan`` (``n`` static); metrics have a
    leading axis of length ``n``.
    """

    init: Callable[..., TrainState]  # (key, hparams=None) -> TrainState
    # (state, n) -> (state after n updates, metrics {name: [n] array})
    run: Callable[[TrainState, int], tuple[TrainState, dict]]
