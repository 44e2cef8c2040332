"""What A2C and PPO share: GAE on fixed-length rollouts, and their update.

One update of either algorithm:

1. **Rollout** (:mod:`jaxpg.rollout.fixed`). N environments step ``num_steps`` = T
   times with the current policy, with auto-reset; the environment state, the last
   observation and the running episode statistics are carried to the next update
   in ``TrainState.env_state`` (a :class:`~jaxpg.rollout.RolloutState`).
2. **Advantages.** The critic (parameters from before this update) evaluates every
   ``s_t`` and every ``info["final_observation"]`` (the observation reached by step
   t *before* any auto-reset, so it equals ``s_{t+1}`` inside an episode). GAE then
   runs on each environment's ``[T]`` row with

   * ``discount_t = γ · (1 − terminated_t)``: a terminated step does not bootstrap;
     a truncated one (time limit) bootstraps from ``V(final_observation_t)``; where
     both flags are set, termination wins;
   * ``cut_t = terminated_t ∨ truncated_t``: the λ-trace never crosses an episode end.

   The critic's target is ``A_t + V(s_t)`` (the λ-return).
3. **Loss and optimisation**: see :mod:`jaxpg.algorithms.a2c` (one gradient step on
   the whole batch) and :mod:`jaxpg.algorithms.ppo` (epochs of shuffled minibatches
   of the clipped surrogate). Both average over all T·N samples.

Random keys, per update: ``key, key_rollout, key_update = split(key, 3)``; per time
step of the rollout ``key, key_act, key_env = split(key, 3)`` and the N environments
step with ``split(key_env, N)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import normalization as norm
from jaxpg import policy as pol
from jaxpg import recurrent
from jaxpg import returns as ret
from jaxpg.algorithms import base, common
from jaxpg.rollout.fixed import Rollout, reset, rollout
from jaxpg.state import HParams, TrainState, hparams


class Batch(NamedTuple):
    """What the losses need of every sample; ``[T, N]`` or flattened ``[T·N]``."""

    obs: jax.Array  # [..., *obs_shape]
    action: jax.Array  # [..., *action_shape]
    log_prob: jax.Array  # [...]: log π_old(a|s)
    value: jax.Array  # [...]: V_old(s)
    advantage: jax.Array  # [...]: GAE advantages
    target: jax.Array  # [...]: the critic's target A + V_old
    # Recurrent networks only (None otherwise): the update replays each
    # environment's [T] sequence from the carries at the window's start.
    done: Any = None  # [T, N] bool: step t ended an episode (reset after it)
    carry: Any = None  # recurrent.Carry of [N, ...]: carries before step 0


def check_actor_critic(config: Any) -> None:
    """Checks of the fields A2C and PPO share (after :func:`common.check_common`)."""
    common.check_common(config)
    common.check_int("num_steps", config.num_steps, 1)
    common.check_product(("num_steps", "num_envs"), config.num_steps, config.num_envs)
    common.check_float("gae_lambda", config.gae_lambda, 0.0, 1.0)
    common.check_bool("normalize_advantages", config.normalize_advantages)
    common.check_bool("anneal_lr", config.anneal_lr)
    common.check_bool("normalize_observations", config.normalize_observations)
    common.check_bool("scale_rewards", config.scale_rewards)
    channels = config.conv_channels
    if channels is not None:
        if isinstance(channels, int) and not isinstance(channels, bool):
            channels = (channels,)
        ok = isinstance(channels, (tuple, list)) and all(
            common.is_size(c) for c in channels
        )
        if not ok:
            common.fail(
                "conv_channels",
                f"None (auto) or a sequence of positive integers <= {common.INT32_MAX}",
                config.conv_channels,
            )
        object.__setattr__(config, "conv_channels", tuple(channels))


def advantages(
    rollout: Rollout,
    values: jax.Array,
    next_values: jax.Array,
    gamma: jax.Array | float,
    gae_lambda: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """GAE advantages and λ-return targets of a fixed-length batch.

    Args:
      rollout: the ``[T, N]`` batch (its rewards and episode-end flags are used).
      values: ``V(s_t)``, ``[T, N]``.
      next_values: ``V(final_observation_t)``, ``[T, N]``: ``V(s_{t+1})`` inside an
        episode, the value of the last state where an episode ended.
      gamma: γ.
      gae_lambda: λ.

    Returns:
      ``(advantages, targets)``, both ``[T, N]``, no gradient through either;
      ``targets = advantages + values``.
    """
    dtype = rollout.reward.dtype
    terminated = rollout.terminated.astype(dtype)
    discounts = gamma * (1.0 - terminated)
    cuts = (rollout.terminated | rollout.truncated).astype(dtype)
    adv = jax.vmap(ret.gae, in_axes=(1, 1, 1, 1, None, 1), out_axes=1)(
        rollout.reward, discounts, values, next_values, gae_lambda, cuts
    )
    return adv, jax.lax.stop_gradient(adv + values)


def batch_from(
    rollout: Rollout,
    value: pol.Policy,
    value_params: Any,
    gamma: jax.Array | float,
    gae_lambda: jax.Array | float,
) -> Batch:
    """Evaluates the critic on the rollout and builds the ``[T, N]`` :class:`Batch`."""
    values = jax.lax.stop_gradient(value.apply(value_params, rollout.obs))
    next_values = jax.lax.stop_gradient(value.apply(value_params, rollout.final_obs))
    adv, target = advantages(rollout, values, next_values, gamma, gae_lambda)
    return Batch(rollout.obs, rollout.action, rollout.log_prob, values, adv, target)


def recurrent_batch(
    rollout: Rollout,
    value: pol.Policy,
    value_params: Any,
    gamma: jax.Array | float,
    gae_lambda: jax.Array | float,
    carry: recurrent.Carry,
) -> tuple[Batch, Any]:
    """:func:`batch_from` when the policy or the critic is recurrent.

    A recurrent critic is replayed over each environment's ``[T]`` row from its
    carry at the window's start, reset after every episode end (terminated or
    truncated), exactly as the policy's carry was in the rollout. The bootstrap
    value ``V(final_observation_t)`` takes the critic's carry *after* step t,
    before any reset (``h'_t``): inside an episode that is ``V(s_{t+1})`` with the
    carry that step t+1 sees, and where an episode was truncated it is the value
    of the last state with the memory of that episode -- not of the next
    episode's start. (Where it terminated the bootstrap is discounted away.)

    Returns:
      ``(batch, carry)``: the :class:`Batch` with ``done`` and the start
      ``carry``, and the critic's carry after the window (None if feed-forward),
      which the next rollout window starts from.
    """
    done = rollout.terminated | rollout.truncated
    if carry.value is None:
        values = value.apply(value_params, rollout.obs)
        next_values = value.apply(value_params, rollout.final_obs)
        end = None
    else:
        values, after, end = recurrent.unroll(
            value, value_params, rollout.obs, carry.value, done
        )
        next_values, _ = value.apply(value_params, rollout.final_obs, after)
    values, next_values = jax.lax.stop_gradient((values, next_values))
    adv, target = advantages(rollout, values, next_values, gamma, gae_lambda)
    batch = Batch(
        rollout.obs, rollout.action, rollout.log_prob, values, adv, target, done, carry
    )
    return batch, end


def outputs(net: pol.Policy, params: Any, batch: Batch, which: str) -> Any:
    """``net``'s outputs on ``batch.obs``: one batched apply (feed-forward), or
    the replay of each environment's sequence from ``batch.carry`` (recurrent).

    Args:
      net: the policy or the critic.
      params: its parameters.
      batch: a ``[T, N]`` batch (``[T, B]`` environments of a PPO minibatch).
      which: ``"policy"`` or ``"value"``: whose carry in ``batch.carry``.

    Returns:
      The outputs, ``[T, N, ...]`` (or the batch's shape when feed-forward).
    """
    carry = None if batch.carry is None else getattr(batch.carry, which)
    if carry is None:
        return net.apply(params, batch.obs)
    return recurrent.unroll(net, params, batch.obs, carry, batch.done)[0]


def make_optimizer(hp: HParams, config: Any, steps_per_update: int):
    """:func:`jaxpg.algorithms.base.make_optimizer` with ``config.anneal_lr``."""
    return base.make_optimizer(
        hp,
        anneal_updates=config.num_updates if config.anneal_lr else None,
        steps_per_update=steps_per_update,
    )


def episode_metrics(data: Rollout, state: TrainState) -> dict[str, jax.Array]:
    """Mean return and length of the episodes that ended in this rollout."""
    done = data.terminated | data.truncated
    return base.episode_metrics(data.finished_return, data.finished_length, done, state)


# ``optimize(optimizer, params, opt_state, batch, key, hp)
#   → (params, opt_state, metrics)``: an algorithm's update on one [T, N] batch.
Optimize = Callable[..., tuple[Any, Any, dict]]


def make_update(
    config: Any,
    env: Any,
    env_params: Any,
    policy: pol.Policy,
    value: pol.Policy,
    make_optimize: Callable[[pol.Policy, pol.Policy], Optimize],
    steps_per_update: int,
    *,
    sharding: Any = None,
) -> base.Update:
    """The :class:`~jaxpg.algorithms.base.Update` around an algorithm's ``optimize``.

    Args:
      config: an actor-critic config (the fields :func:`check_actor_critic` checks).
      env: the encoded environment (:func:`jaxpg.envs.encode_env`).
      env_params: its parameters.
      policy: the actor.
      value: the critic (``apply`` returns one value per observation).
      make_optimize: ``(policy, value) → optimize``, the algorithm's optimisation of
        one batch (see :data:`Optimize`); called with the networks as the update
        applies them (wrapped for observation normalisation where asked).
      steps_per_update: optimiser steps per update (for learning-rate annealing).
      sharding: a ``NamedSharding`` of the env axis for the rollouts (see
        :mod:`jaxpg.sharding`); None: no annotation.
    """
    if value is None:
        raise ValueError(f"{type(config).__name__} needs a critic (value=...)")
    if config.normalize_observations:
        # jaxpg.make_policy / make_value wrap already; a custom network is wrapped
        # here (evaluate it with jaxpg.normalization.normalize_observations(policy)).
        policy = norm.normalize_observations(policy)
        value = norm.normalize_observations(value)
    parts = _UpdateParts(
        config,
        env,
        env_params,
        policy,
        value,
        make_optimize(policy, value),
        pol.example_observation(env, env_params).ndim,
        steps_per_update,
        sharding,
    )

    def update(state: TrainState, _: Any = None) -> tuple[TrainState, dict]:
        return _update(parts, state)

    init = functools.partial(
        _init, config, env, env_params, policy, value, steps_per_update, sharding
    )
    return base.Update(init, update)


class _UpdateParts(NamedTuple):
    """What one update closes over (static: Python values and functions)."""

    config: Any
    env: Any
    env_params: Any
    policy: pol.Policy  # wrapped for observation normalisation where asked
    value: pol.Policy  # likewise
    optimize: Optimize
    obs_ndim: int  # rank of one observation
    steps_per_update: int
    sharding: Any


def _update(parts: _UpdateParts, state: TrainState) -> tuple[TrainState, dict]:
    """One update: rollout, (scaled rewards,) batch with GAE, ``optimize``."""
    config, env, env_params = parts.config, parts.env, parts.env_params
    hp = state.hparams
    key, key_rollout, key_update = jax.random.split(state.key, 3)
    params = state.params
    env_end, data = rollout(
        key_rollout,
        parts.policy,
        params["policy"],
        env,
        env_params,
        state.env_state,
        config.num_steps,
        hp.gamma,
        sharding=parts.sharding,
    )
    env_end, scaled = _scale_rewards(config, env_end, data)
    batch, env_end = _batch(scaled, parts.value, params["value"], hp, state, env_end)
    optimizer = make_optimizer(hp, config, parts.steps_per_update)
    new_params, opt_state, metrics = parts.optimize(
        optimizer, params, state.opt_state, batch, key_update, hp
    )
    if config.normalize_observations:
        new_params = norm.refresh_obs_stats(new_params, data.obs, parts.obs_ndim)
    metrics.update(episode_metrics(data, state))
    env_steps = min(config.num_steps * config.num_envs, base.INT32_MAX)
    metrics["env_steps"] = jnp.int32(env_steps)
    new_state = state._replace(
        params=new_params,
        opt_state=opt_state,
        key=key,
        env_state=env_end,
        step=state.step + 1,
        last_episode_return=metrics["episode_return"],
        last_episode_length=metrics["episode_length"],
    )
    return new_state, metrics


def _batch(
    data: Rollout,
    value: pol.Policy,
    value_params: Any,
    hp: HParams,
    state: TrainState,
    env_end: Any,
) -> tuple[Batch, Any]:
    """The update's batch; with recurrent networks also the critic's carry after
    the window, stored in ``env_end`` for the next rollout."""
    start = state.env_state.carry
    if start is None:
        return batch_from(data, value, value_params, hp.gamma, hp.gae_lambda), env_end
    batch, end = recurrent_batch(
        data, value, value_params, hp.gamma, hp.gae_lambda, start
    )
    return batch, env_end._replace(carry=env_end.carry._replace(value=end))


def _scale_rewards(config: Any, env_end: Any, data: Rollout) -> tuple[Any, Rollout]:
    """With ``config.scale_rewards``, the rewards divided by the running std of the
    discounted return (whose statistics are updated first); else unchanged."""
    if not config.scale_rewards:
        return env_end, data
    stats = norm.update_stats(env_end.reward_stats, data.reward_return.reshape(-1))
    env_end = env_end._replace(reward_stats=stats)
    return env_end, data._replace(reward=data.reward / jnp.sqrt(stats.var + norm.EPS))


def _init(
    config: Any,
    env: Any,
    env_params: Any,
    policy: pol.Policy,
    value: pol.Policy,
    steps_per_update: int,
    sharding: Any,
    key: jax.Array,
    hparams_: HParams | None = None,
) -> TrainState:
    """The first :class:`TrainState`: networks, optimizer, N freshly reset envs."""
    hp = hparams(config) if hparams_ is None else hparams_
    key, key_policy, key_value, key_reset = jax.random.split(key, 4)
    obs = pol.example_observation(env, env_params)
    params = {
        "policy": policy.init(key_policy, obs),
        "value": value.init(key_value, obs),
    }
    optimizer = make_optimizer(hp, config, steps_per_update)
    start = reset(
        key_reset,
        env,
        env_params,
        config.num_envs,
        scale_rewards=config.scale_rewards,
        sharding=sharding,
        carry=_start_carry(policy, value, config.num_envs),
    )
    return base.initial_state(key, params, optimizer.init(params), start, hp)


def _start_carry(policy: pol.Policy, value: pol.Policy, num_envs: int) -> Any:
    """The networks' initial carries (None when both are feed-forward)."""
    carry = recurrent.initial_carries(policy, value, num_envs)
    return None if carry.policy is None and carry.value is None else carry
