"""Trainers: ``make_trainer`` / ``make_train`` / ``estimate_gradient``.

``make_train(config)`` returns a pure ``train(key, hparams=None)``: one
``jax.jit``-able function, ``jax.vmap``-able over keys (seeds) and over
:class:`HParams` (sweeps). ``make_trainer`` gives the same computation as
``Trainer(init, run)`` so a host loop can run chunks of updates and print, log or
checkpoint between them. Both are generic: the algorithm is looked up in
:mod:`jaxpg.algorithms.registry` by the config's class.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import normalization as norm
from jaxpg import policy as pol
from jaxpg import recurrent
from jaxpg.algorithms import base, episodic, registry, reinforce
from jaxpg.envs import Frozen, encode_env, make_env, max_episode_steps, unwrap
from jaxpg.memory import check_fits, observation, rollout_bytes, tree_bytes
from jaxpg.state import HParams, Trainer, TrainResult, TrainState, hparams
from jaxpg.state import hparams as config_hparams

__all__ = [
    "Built",
    "HParams",
    "TrainResult",
    "TrainState",
    "Trainer",
    "build",
    "check_memory",
    "estimate_gradient",
    "hparams",
    "make_optimizer",
    "make_train",
    "make_trainer",
]

# The optimizer every algorithm builds (clipping, then Adam).
make_optimizer = base.make_optimizer


class Built(NamedTuple):
    """What :func:`build` resolves from a config and the optional objects."""

    env: Any  # the encoded environment
    env_params: Any  # its parameters
    policy: pol.Policy  # the policy as training applies it
    value: pol.Policy | None  # the critic as training applies it (None: none)


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
        if kind not in ("Discrete", "MultiDiscrete", "Box"):
            raise ValueError(
                f"the action space of {config.env_id or env.name} is {kind}; jaxpg's "
                "policies handle Discrete, MultiDiscrete and Box"
            )


def build(config: Any, env: Any, env_params: Any, policy: Any, value: Any) -> Built:
    """Resolves env, policy and critic and checks everything before tracing.

    The networks come back as training applies them: jaxpg's own, or the user's
    wrapped for observation normalisation when ``config.normalize_observations``.

    Args:
      config: a registered algorithm's config.
      env: an environment object (wins over ``config.env_id``) or None.
      env_params: its parameters, or None for the defaults.
      policy: a :class:`jaxpg.Policy`, or None for jaxpg's.
      value: a critic :class:`jaxpg.Policy`, or None for jaxpg's (when the
        algorithm uses one).

    Returns:
      :class:`Built`: the encoded env, its params, the policy and the critic
      (None when the algorithm has none).

    Raises:
      TypeError: for an unregistered config or a policy/value of the wrong type.
      ValueError: for a missing environment or horizon, or an action space
        jaxpg's policies do not handle.
    """
    registry.for_config(config)  # TypeError for anything but a registered config
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
    recurrent.check_form(policy, "policy")
    if value is not None:
        recurrent.check_form(value, "value")
    if getattr(config, "normalize_observations", False):
        policy = norm.normalize_observations(policy)
        value = None if value is None else norm.normalize_observations(value)
    return Built(env, env_params, policy, value)


def check_memory(
    config: Any,
    built: Built,
    *,
    devices: int = 1,
    copies: int = 1,
    copies_field: str = "",
) -> None:
    """ValueError when one update's batch or the networks cannot fit in memory.

    Lower bounds, compared with one device's memory
    (:func:`jaxpg.memory.available_bytes`): the rollout
    (:func:`jaxpg.memory.rollout_bytes`, split over ``devices``) and the
    parameters, gradients and Adam moments (4 × the parameters, on every device),
    times ``copies`` (seeds trained together).

    Args:
      config: the algorithm config.
      built: :func:`build`'s output for it.
      devices: devices the environments are split over.
      copies: states trained side by side (vmapped seeds).
      copies_field: the field or flag that sets ``copies`` (for the message).
    """
    env, env_params = built.env, built.env_params
    episodic_ = registry.for_config(config).episodic
    steps = max_episode_steps(env_params) if episodic_ else config.num_steps
    times = f" × {copies} {copies_field}" if copies > 1 else ""
    also = f" or {copies_field}" if copies > 1 else ""
    if episodic_:
        what = (
            f"num_envs: one update's {config.num_envs} episodes of up to {steps} steps"
        )
        fix = f"lower num_envs{also}"
    else:
        what = f"num_envs · num_steps: one update's {config.num_envs} × {steps} steps"
        fix = f"lower num_envs or num_steps{also}"
    if devices > 1:
        what += f" (over {devices} devices)"
    needed = rollout_bytes(env, env_params, steps, config.num_envs * copies)
    check_fits(what + times, needed // devices, fix)
    nets = [n for n in (built.policy, built.value) if n is not None]
    try:
        obs = observation(env, env_params)
        params = sum(
            tree_bytes(jax.eval_shape(lambda o, n=n: n.init(jax.random.key(0), o), obs))
            for n in nets
        )
    except Exception:  # a custom network that cannot be traced like this: no bound
        return
    check_fits(
        f"hidden_sizes {tuple(config.hidden_sizes)}: the networks' parameters, "
        f"gradients and Adam moments{times}",
        4 * params * copies,
        f"lower hidden_sizes{also}",
    )


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
      config: a registered algorithm's config (e.g. :class:`jaxpg.ReinforceConfig`).
      env: a gymnax environment object; overrides ``config.env_id``.
      env_params: its parameters (the environment's defaults otherwise).
      policy: a custom :class:`jaxpg.Policy`; jaxpg's MLP policy otherwise.
      value: a custom critic (when the algorithm uses one); jaxpg's MLP otherwise.
      sharding: a ``NamedSharding`` of the environment axis (see
        :mod:`jaxpg.sharding`): the rollouts pin per-environment arrays to it
        and XLA splits them over its devices. None (default): no annotations.

    Returns:
      ``init(key, hparams=None) → TrainState`` and ``run(state, n) → (state,
      metrics)``: pure functions; jit ``run`` with ``static_argnums=1``.
    """
    algorithm = registry.for_config(config)
    built = build(config, env, env_params, policy, value)
    devices = 1 if sharding is None else len(sharding.device_set)
    check_memory(config, built, devices=devices)
    env, env_params, policy, value = built
    pieces = algorithm.make_update(
        config, env, env_params, policy, value, sharding=sharding
    )

    def init(key: jax.Array, hparams: HParams | None = None) -> TrainState:
        return pieces.init(key, hparams)

    def run(state: TrainState, num_updates: int) -> tuple[TrainState, dict]:
        return jax.lax.scan(pieces.update, state, None, length=int(num_updates))

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

    Args:
      config, env, env_params, policy, value, sharding: as in :func:`make_trainer`.

    Returns:
      ``train(key, hparams=None)``: a PRNG key (and optionally an
      :class:`HParams`) to a :class:`TrainResult` whose ``metrics`` leaves are
      ``[num_updates]``.

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


@functools.lru_cache(maxsize=64)
def _gradient_fn(config, raw_env, frozen_params, policy, value):
    built = build(config, raw_env, frozen_params.tree, policy, value)
    check_memory(config, built)
    env, env_params, policy, value = built
    chunk = min(config.rollout_chunk, max_episode_steps(env_params))

    @jax.jit
    def estimate(key, params, hp):
        traj, psi, target = reinforce.episodic_batch(
            key, config, policy, value, env, env_params, params, hp
        )
        loss_fn = episodic.make_loss(
            config,
            policy,
            value,
            hp,
            config.num_envs,
            jnp.float32(1.0),
            score_only=True,
        )
        _, grads, _ = episodic.batch_gradient(loss_fn, params, traj, psi, target, chunk)
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

    Args:
      key: a PRNG key (the batch's episodes).
      config: a :class:`jaxpg.ReinforceConfig` (its weights and baseline).
      params: the full params dict ``{"policy", "value"}``.
      env: the environment object (see :func:`jaxpg.make_env`).
      env_params: its parameters, or None for the defaults.
      policy: the :class:`jaxpg.Policy` the params belong to, or None for
        jaxpg's.
      value: the critic, or None (jaxpg's, when the config uses one).
      hparams: the :class:`HParams`; None: the config's.

    Returns:
      The ascent direction, a pytree shaped like ``params``.

    Raises:
      ValueError: for a config that is not a ``ReinforceConfig``, or no env.
    """
    registry.for_config(config)
    if not isinstance(config, reinforce.ReinforceConfig):
        raise ValueError(
            "estimate_gradient estimates REINFORCE's score-function gradient and "
            f"takes a ReinforceConfig; got {type(config).__name__}"
        )
    raw_env = unwrap(env)
    if raw_env is None:
        raise ValueError("estimate_gradient needs an env object (see jaxpg.make_env)")
    if env_params is None:
        env_params = raw_env.default_params
    fn = _gradient_fn(config, raw_env, Frozen(env_params), policy, value)
    hp = config_hparams(config) if hparams is None else hparams
    if "value" not in params:
        params = {**params, "value": None}
    return fn(key, params, hp)
