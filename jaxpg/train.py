"""Trainers: ``make_trainer`` / ``make_train`` / ``estimate_gradient``.

``make_train(config)`` returns a pure ``train(key, hparams=None)``: one
``jax.jit``-able function, ``jax.vmap``-able over keys (seeds) and over
:class:`HParams` (sweeps). ``make_trainer`` gives the same computation as
``Trainer(init, run)`` so a host loop can run chunks of updates and print, log or
checkpoint between them.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxpg import diagnostics
from jaxpg import policy as pol
from jaxpg.algorithms import a2c, actor_critic, ppo, reinforce
from jaxpg.envs import encode_env, make_env, max_episode_steps
from jaxpg.rollout import episode_statistics, episodic_rollout
from jaxpg.state import HParams, Trainer, TrainResult, TrainState, hparams

__all__ = [
    "HParams",
    "TrainResult",
    "TrainState",
    "Trainer",
    "estimate_gradient",
    "hparams",
    "make_optimizer",
    "make_train",
    "make_trainer",
]

CONFIG_TYPES = (reinforce.ReinforceConfig, a2c.A2CConfig, ppo.PPOConfig)
_config_hparams = hparams


def make_optimizer(hp: HParams) -> optax.GradientTransformation:
    """Global-norm clipping then Adam, from (possibly traced) hyperparameters."""
    return optax.chain(
        optax.clip_by_global_norm(hp.max_grad_norm),
        optax.adam(hp.learning_rate),
    )


def _check_config(config: Any) -> None:
    if not isinstance(config, CONFIG_TYPES):
        names = ", ".join(c.__name__ for c in CONFIG_TYPES)
        raise TypeError(f"config must be one of {names}; got {type(config).__name__}")


def _resolve_env(config: Any, env: Any, env_params: Any) -> tuple[Any, Any]:
    """The env object wins over ``config.env_id``; the result is always encoded."""
    if env is None:
        if config.env_id is None:
            raise ValueError("config.env_id is None and no env object was given")
        env, default_params = make_env(config.env_id)
    else:
        env = encode_env(env)
        default_params = env.default_params
    if env_params is None:
        env_params = default_params
    max_episode_steps(env_params)  # fail early on a missing horizon
    return env, env_params


def _check_env(config: Any, env: Any, env_params: Any, policy: Any) -> None:
    """Checks that need the environment, before anything is traced."""
    if policy is None:
        space = env.action_space(env_params)
        kind = type(space).__name__
        if kind not in ("Discrete", "Box"):
            raise ValueError(
                f"the action space of {config.env_id or env.name} is {kind}; jaxpg's "
                "policies handle Discrete and Box"
            )


def _episode_metrics(
    stats: dict, state: TrainState
) -> tuple[dict, jax.Array, jax.Array]:
    finished = stats["finished"].astype(jnp.float32)
    count = finished.sum()
    safe = jnp.maximum(count, 1.0)
    mean_return = jnp.where(
        count > 0, (stats["return"] * finished).sum() / safe, state.last_episode_return
    )
    mean_length = jnp.where(
        count > 0, (stats["length"] * finished).sum() / safe, state.last_episode_length
    )
    metrics = {
        "episode_return": mean_return,
        "episode_length": mean_length,
        "episodes_finished": count.astype(jnp.int32),
    }
    return metrics, mean_return, mean_length


def _reinforce_update(config, env, env_params, policy, value, sharding=None):
    n = config.num_envs
    chunk = config.rollout_chunk
    horizon = max_episode_steps(env_params)

    def update(state: TrainState, _: Any = None) -> tuple[TrainState, dict]:
        hp = state.hparams
        key, key_rollout = jax.random.split(state.key)
        params = state.params
        traj = episodic_rollout(
            key_rollout,
            policy,
            params["policy"],
            env,
            env_params,
            n,
            chunk=chunk,
            max_steps=horizon,
            value=value,
            value_params=params["value"],
            sharding=sharding,
        )
        psi, target = reinforce.weights_from_config(
            traj, config, hp.gamma, hp.gae_lambda
        )
        num_steps = jnp.maximum(traj.mask.sum(), 1.0)
        loss_fn = reinforce.make_loss(config, policy, value, hp, n, num_steps)
        loss, grads, aux = reinforce.chunked_value_and_grad(
            loss_fn,
            params,
            reinforce.batch_from(traj, psi, target),
            traj.steps_run,
            min(chunk, horizon),
        )
        # Clipping and Adam on one flat vector: elementwise Adam and the global norm
        # are the same as per leaf, and XLA gets one kernel per step instead of
        # one per parameter array.
        flat_params, unravel = ravel_pytree(params)
        flat_grads = ravel_pytree(grads)[0]
        grad_norm = jnp.sqrt(jnp.sum(flat_grads * flat_grads))
        optimizer = make_optimizer(hp)
        updates, opt_state = optimizer.update(flat_grads, state.opt_state, flat_params)
        new_params = unravel(optax.apply_updates(flat_params, updates))

        stats = episode_statistics(traj)
        metrics, last_return, last_length = _episode_metrics(stats, state)
        real_steps = traj.mask.sum()
        metrics.update(
            loss=loss,
            policy_loss=aux["policy_loss"],
            entropy=aux["entropy"] * n / jnp.maximum(real_steps, 1.0),
            grad_norm=grad_norm,
            env_steps=real_steps.astype(jnp.int32),
            computed_steps=(traj.steps_run * n).astype(jnp.int32),
        )
        if value is not None:
            metrics["value_loss"] = aux["value_loss"]
        if config.gradient_diagnostics:  # opt-in: off adds nothing to the program
            metrics.update(
                diagnostics.training_metrics(policy, params["policy"], traj, psi)
            )
        new_state = state._replace(
            params=new_params,
            opt_state=opt_state,
            key=key,
            step=state.step + 1,
            last_episode_return=last_return,
            last_episode_length=last_length,
        )
        return new_state, metrics

    return update


def _build(config, env, env_params, policy, value):
    """Resolves env/policy/critic and checks everything before tracing."""
    _check_config(config)
    env, env_params = _resolve_env(config, env, env_params)
    _check_env(config, env, env_params, policy)
    if policy is None:
        policy = pol.make_policy(config, env, env_params)
    elif not isinstance(policy, pol.Policy):
        raise TypeError("policy must be a jaxpg.Policy(init, apply)")
    if config.uses_value:
        if value is None:
            value = pol.make_value(config, env, env_params)
        elif not isinstance(value, pol.Policy):
            raise TypeError("value must be a jaxpg.Policy(init, apply)")
    else:
        value = None
    return env, env_params, policy, value


def make_trainer(
    config: Any,
    env: Any = None,
    env_params: Any = None,
    policy: pol.Policy | None = None,
    value: pol.Policy | None = None,
    *,
    sharding: Any = None,
) -> Trainer:
    """``Trainer(init, run)`` for ``config``.

    Args:
      config: an algorithm config (e.g. :class:`jaxpg.ReinforceConfig`).
      env: a gymnax environment object; overrides ``config.env_id``.
      env_params: its parameters (the environment's defaults otherwise).
      policy: a custom :class:`jaxpg.Policy`; jaxpg's MLP policy otherwise.
      value: a custom critic (``baseline="value"``); jaxpg's MLP otherwise.
      sharding: a ``NamedSharding`` of the environment axis (see
        :mod:`jaxpg.distributed`): the rollouts pin per-environment arrays to it
        and XLA splits them over its devices. None (default): no annotations.

    Returns:
      ``init(key, hparams=None) → TrainState`` and ``run(state, n) → (state,
      metrics)``: pure functions; jit ``run`` with ``static_argnums=1``.
    """
    env, env_params, policy, value = _build(config, env, env_params, policy, value)
    if isinstance(config, (a2c.A2CConfig, ppo.PPOConfig)):
        return actor_critic.make_trainer(
            config, env, env_params, policy, value, sharding=sharding
        )
    obs = pol.example_observation(env, env_params)
    update = _reinforce_update(config, env, env_params, policy, value, sharding)

    def init(key: jax.Array, hparams: HParams | None = None) -> TrainState:
        hp = _config_hparams(config) if hparams is None else hparams
        key, key_policy, key_value = jax.random.split(key, 3)
        params = {
            "policy": policy.init(key_policy, obs),
            "value": None if value is None else value.init(key_value, obs),
        }
        return TrainState(
            params=params,
            opt_state=make_optimizer(hp).init(ravel_pytree(params)[0]),
            key=key,
            env_state=None,
            step=jnp.int32(0),
            hparams=hp,
            last_episode_return=jnp.float32(0.0),
            last_episode_length=jnp.float32(0.0),
        )

    def run(state: TrainState, num_updates: int) -> tuple[TrainState, dict]:
        return jax.lax.scan(update, state, None, length=int(num_updates))

    return Trainer(init, run)


def make_train(
    config: Any,
    env: Any = None,
    env_params: Any = None,
    policy: pol.Policy | None = None,
    value: pol.Policy | None = None,
    *,
    sharding: Any = None,
):
    """A pure ``train(key, hparams=None) → TrainResult`` for ``config``.

    Everything (validation, building the environment and networks) happens here,
    before anything is traced. ``train`` runs ``config.num_updates`` updates in one
    ``lax.scan``; jit it, vmap it over keys for seeds or over a stacked
    :class:`HParams` for a sweep.

    >>> import jax, jaxpg
    >>> train = jaxpg.make_train(jaxpg.ReinforceConfig(num_envs=4, num_updates=2))
    >>> result = jax.jit(train)(jax.random.key(0))
    >>> result.metrics["episode_return"].shape
    (2,)
    """
    trainer = make_trainer(config, env, env_params, policy, value, sharding=sharding)

    def train(key: jax.Array, hparams: HParams | None = None) -> TrainResult:
        state = trainer.init(key, hparams)
        state, metrics = trainer.run(state, config.num_updates)
        return TrainResult(state.params, state, metrics)

    return train


class _Frozen:
    """Hashable by value: lets jitted builders be cached on env_params."""

    def __init__(self, tree: Any):
        self.tree = tree
        leaves, treedef = jax.tree.flatten(tree)
        parts = []
        for leaf in leaves:
            a = np.asarray(leaf)
            parts.append((a.dtype.str, a.shape, a.tobytes()))
        self.key = (treedef, tuple(parts))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen) and self.key == other.key


@functools.lru_cache(maxsize=64)
def _gradient_fn(config, raw_env, frozen_params, policy, value):
    env, env_params, policy, value = _build(
        config, raw_env, frozen_params.tree, policy, value
    )
    n = config.num_envs
    horizon = max_episode_steps(env_params)
    chunk = min(config.rollout_chunk, horizon)

    @jax.jit
    def estimate(key, params, hp):
        traj = episodic_rollout(
            key,
            policy,
            params["policy"],
            env,
            env_params,
            n,
            chunk=chunk,
            max_steps=horizon,
            value=value,
            value_params=params.get("value"),
        )
        psi, target = reinforce.weights_from_config(
            traj, config, hp.gamma, hp.gae_lambda
        )
        loss_fn = reinforce.make_loss(
            config, policy, value, hp, n, jnp.float32(1.0), score_only=True
        )
        _, grads, _ = reinforce.chunked_value_and_grad(
            loss_fn,
            params,
            reinforce.batch_from(traj, psi, target),
            traj.steps_run,
            chunk,
        )
        # The loss is −Ĵ: its negated gradient is the ascent direction ∇Ĵ.
        ascent = jax.tree.map(jnp.negative, grads)
        if ascent.get("value") is not None:
            ascent["value"] = jax.tree.map(jnp.zeros_like, ascent["value"])
        return ascent

    return estimate


def estimate_gradient(
    key: jax.Array,
    config: Any,
    params: dict,
    env: Any,
    env_params: Any,
    policy: pol.Policy | None = None,
    value: pol.Policy | None = None,
    hparams: HParams | None = None,
) -> dict:
    """One batch's estimate of ∇J: ``(1/N) Σ_i Σ_t Ψ_{i,t} ∇log π(a_{i,t}|s_{i,t})``.

    Runs ``config.num_envs`` episodes with ``params`` and returns the ascent
    direction of the score-function term alone (no entropy bonus, critic loss or
    clipping) -- the negated gradient of ``score_function_loss`` -- with the
    structure of ``params`` and zeros for ``"value"``. Nothing is updated. It is
    jitted internally (cached per config/env/policy) and can be vmapped over keys.
    """
    _check_config(config)
    if not isinstance(config, reinforce.ReinforceConfig):
        raise ValueError(
            "estimate_gradient estimates REINFORCE's score-function gradient and "
            f"takes a ReinforceConfig; got {type(config).__name__}"
        )
    raw_env = (
        env.env if hasattr(env, "env") and type(env).__name__ == "EncodedEnv" else env
    )
    if raw_env is None:
        raise ValueError("estimate_gradient needs an env object (see jaxpg.make_env)")
    if env_params is None:
        env_params = raw_env.default_params
    fn = _gradient_fn(config, raw_env, _Frozen(env_params), policy, value)
    hp = _config_hparams(config) if hparams is None else hparams
    if "value" not in params:
        params = {**params, "value": None}
    return fn(key, params, hp)
