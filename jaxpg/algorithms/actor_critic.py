"""What A2C and PPO share: fixed-length rollouts, GAE on them, the trainer.

One update of either algorithm:

1. **Rollout.** N environments step ``num_steps`` = T times with the current policy
   (``lax.scan`` over time, ``vmap`` over environments). gymnax resets an
   environment automatically when its episode ends, so the window holds pieces of
   several episodes; the environment state, the last observation and the running
   episode statistics are carried to the next update in ``TrainState.env_state``
   (a :class:`RolloutState`).
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

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxpg import normalization as norm
from jaxpg import policy as pol
from jaxpg import returns as ret
from jaxpg.algorithms import common
from jaxpg.distributed import constrain
from jaxpg.state import HParams, Trainer, TrainState, hparams


class RolloutState(NamedTuple):
    """What a fixed-length rollout carries across updates (``TrainState.env_state``)."""

    env_state: Any  # the N environments' gymnax states
    obs: jax.Array  # [N, *obs_shape] float32: the observation the next step acts on
    episode_return: jax.Array  # [N] float32: undiscounted return so far
    episode_length: jax.Array  # [N] int32: steps so far in the current episode
    reward_return: Any = None  # [N] float32: R ← γR + r (scale_rewards), else None
    reward_stats: Any = None  # RunningStats of R, shape [] (scale_rewards), else None


class Rollout(NamedTuple):
    """A fixed-length batch of transitions, time-major ``[T, N]``."""

    obs: jax.Array  # [T, N, *obs_shape] float32: s_t
    action: jax.Array  # [T, N, *action_shape]: a_t (unclipped)
    reward: jax.Array  # [T, N] float32: r_t
    terminated: jax.Array  # [T, N] bool
    truncated: jax.Array  # [T, N] bool
    log_prob: jax.Array  # [T, N] float32: log π(a_t|s_t) when sampled
    final_obs: jax.Array  # [T, N, *obs_shape] float32: s_{t+1} before any auto-reset
    finished_return: jax.Array  # [T, N] float32: return of the episode ending at t
    finished_length: jax.Array  # [T, N] float32: its length (both 0 elsewhere)
    reward_return: Any = None  # [T, N] float32: R_t after step t (scale_rewards)


class Batch(NamedTuple):
    """What the losses need of every sample; ``[T, N]`` or flattened ``[T·N]``."""

    obs: jax.Array  # [..., *obs_shape]
    action: jax.Array  # [..., *action_shape]
    log_prob: jax.Array  # [...]: log π_old(a|s)
    value: jax.Array  # [...]: V_old(s)
    advantage: jax.Array  # [...]: GAE advantages
    target: jax.Array  # [...]: the critic's target A + V_old


def check_actor_critic(config: Any) -> None:
    """Checks of the fields A2C and PPO share (after :func:`common.check_common`)."""
    common.check_common(config)
    common.check_int("num_steps", config.num_steps, 1)
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
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channels
        )
        if not ok:
            common._fail(
                "conv_channels",
                "None (auto) or a sequence of positive integers",
                config.conv_channels,
            )
        object.__setattr__(config, "conv_channels", tuple(channels))


def reset(
    key: jax.Array,
    env: Any,
    env_params: Any,
    num_envs: int,
    *,
    scale_rewards: bool = False,
    sharding: Any = None,
) -> RolloutState:
    """Resets ``num_envs`` environments with ``split(key, num_envs)``.

    ``sharding`` (a ``NamedSharding`` of the env axis, or None) pins the
    per-environment arrays to it (:mod:`jaxpg.distributed`).
    """
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        constrain(jax.random.split(key, num_envs), sharding), env_params
    )
    start = RolloutState(
        env_state=env_state,
        obs=obs,
        episode_return=jnp.zeros((num_envs,), jnp.float32),
        episode_length=jnp.zeros((num_envs,), jnp.int32),
        reward_return=jnp.zeros((num_envs,), jnp.float32) if scale_rewards else None,
        reward_stats=norm.init_stats(()) if scale_rewards else None,
    )
    return constrain(start, sharding)


def rollout(
    key: jax.Array,
    policy: pol.Policy,
    policy_params: Any,
    env: Any,
    env_params: Any,
    start: RolloutState,
    num_steps: int,
    gamma: jax.Array | float = 1.0,
    *,
    sharding: Any = None,
) -> tuple[RolloutState, Rollout]:
    """``num_steps`` steps of every environment, resetting finished episodes.

    Args:
      key: a PRNG key.
      policy: the policy's ``(init, apply)``.
      policy_params: its parameters.
      env: an encoded gymnax environment (``step`` returns ``obs, state, reward,
        terminated, truncated, info`` with ``info["final_observation"]``).
      env_params: its parameters.
      start: where the previous rollout stopped (or :func:`reset`).
      num_steps: T.
      gamma: γ of the running return kept for reward scaling (used only when
        ``start.reward_return`` is not None).
      sharding: a ``NamedSharding`` of the env axis (:mod:`jaxpg.distributed`)
        every per-environment array is pinned to; None: no annotation.

    Returns:
      ``(end, rollout)``: the state to continue from, and the ``[T, N]`` batch.
    """
    num_envs = start.obs.shape[0]

    def step(carry: tuple[jax.Array, RolloutState], _: Any):
        key, s = carry
        key, key_act, key_env = jax.random.split(key, 3)
        output = policy.apply(policy_params, s.obs)
        action = pol.sample(key_act, output)
        logp = pol.log_prob(output, action)
        next_obs, env_state, reward, terminated, truncated, info = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(
            constrain(jax.random.split(key_env, num_envs), sharding),
            s.env_state,
            action,
            env_params,
        )
        if "final_observation" not in info:
            raise ValueError(
                "env.step must put the pre-reset observation in "
                "info['final_observation'] (gymnax >= 1.0 does): a truncated "
                "episode bootstraps from it"
            )
        done = terminated | truncated
        ep_return = s.episode_return + reward
        ep_length = s.episode_length + 1
        donef = done.astype(jnp.float32)
        scaling = s.reward_return is not None
        r_return = s.reward_return * gamma + reward if scaling else None
        record = Rollout(
            obs=s.obs,
            action=action,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            log_prob=logp,
            final_obs=info["final_observation"],
            finished_return=ep_return * donef,
            finished_length=ep_length.astype(jnp.float32) * donef,
            reward_return=r_return,
        )
        nxt = RolloutState(
            env_state=env_state,
            obs=next_obs,
            episode_return=jnp.where(done, 0.0, ep_return),
            episode_length=jnp.where(done, 0, ep_length),
            reward_return=jnp.where(done, 0.0, r_return) if scaling else None,
            reward_stats=s.reward_stats,
        )
        return (key, constrain(nxt, sharding)), constrain(record, sharding)

    (_, end), batch = jax.lax.scan(step, (key, start), None, length=num_steps)
    return end, batch


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


def normalize(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``(x − mean) / (std + eps)`` over all entries (biased, consistent; see DESIGN)."""
    return (x - x.mean()) / (x.std() + eps)


def make_optimizer(
    hp: HParams, config: Any, steps_per_update: int
) -> optax.GradientTransformation:
    """Global-norm clipping then Adam; with ``anneal_lr`` a linear decay to 0.

    The rate is built from the (possibly traced) ``hp.learning_rate``, so a sweep over
    it still works. With annealing the rate of update ``u`` (0-based) is
    ``lr · (1 − u / num_updates)``, constant over that update's ``steps_per_update``
    optimiser steps (PPO: epochs × minibatches), and never below 0.
    """
    lr: Any = hp.learning_rate
    if config.anneal_lr:
        base = hp.learning_rate
        total = float(config.num_updates)

        def lr(count: jax.Array) -> jax.Array:
            update = (count // steps_per_update).astype(jnp.float32)
            return base * jnp.maximum(1.0 - update / total, 0.0)

    return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(lr))


def episode_metrics(rollout: Rollout, state: TrainState) -> dict[str, jax.Array]:
    """Mean return and length of the episodes that ended in this rollout.

    When none ended, the previous values (``state.last_episode_*``) are carried, so
    the metrics never hold NaN.
    """
    done = (rollout.terminated | rollout.truncated).astype(jnp.float32)
    count = done.sum()
    safe = jnp.maximum(count, 1.0)
    mean_return = jnp.where(
        count > 0, rollout.finished_return.sum() / safe, state.last_episode_return
    )
    mean_length = jnp.where(
        count > 0, rollout.finished_length.sum() / safe, state.last_episode_length
    )
    return {
        "episode_return": mean_return,
        "episode_length": mean_length,
        "episodes_finished": count.astype(jnp.int32),
    }


# ``optimize(optimizer, params, opt_state, batch, key, hp)
#   → (params, opt_state, metrics)``: an algorithm's update on one [T, N] batch.
Optimize = Callable[..., tuple[Any, Any, dict]]


def make_trainer(
    config: Any,
    env: Any,
    env_params: Any,
    policy: pol.Policy,
    value: pol.Policy,
    *,
    sharding: Any = None,
) -> Trainer:
    """``Trainer(init, run)`` for an :class:`~jaxpg.A2CConfig` or
    :class:`~jaxpg.PPOConfig`.

    Args:
      config: the actor-critic config.
      env: the encoded environment (:func:`jaxpg.envs.encode_env`).
      env_params: its parameters.
      policy: the actor.
      value: the critic (``apply`` returns one value per observation).
      sharding: a ``NamedSharding`` of the env axis for the rollouts (see
        :mod:`jaxpg.distributed`); None: no annotation.

    Returns:
      ``init(key, hparams=None) → TrainState`` and ``run(state, n) → (state,
      metrics)``: pure functions; jit ``run`` with ``static_argnums=1``.
    """
    from jaxpg.algorithms import a2c, ppo

    if isinstance(config, ppo.PPOConfig):
        optimize = ppo.make_optimize(config, policy, value, sharding=sharding)
        steps_per_update = config.num_epochs * config.num_minibatches
    elif isinstance(config, a2c.A2CConfig):
        optimize = a2c.make_optimize(config, policy, value)
        steps_per_update = 1
    else:
        raise TypeError(
            f"config must be an A2CConfig or a PPOConfig; got {type(config).__name__}"
        )
    if value is None:
        raise ValueError(f"{type(config).__name__} needs a critic (value=...)")
    if config.normalize_observations:
        # jaxpg.make_policy / make_value wrap already; a custom network is wrapped
        # here (evaluate it with jaxpg.normalization.normalize_observations(policy)).
        policy = norm.normalize_observations(policy)
        value = norm.normalize_observations(value)
    return build_trainer(
        config,
        env,
        env_params,
        policy,
        value,
        optimize,
        steps_per_update,
        sharding=sharding,
    )


def build_trainer(
    config: Any,
    env: Any,
    env_params: Any,
    policy: pol.Policy,
    value: pol.Policy,
    optimize: Optimize,
    steps_per_update: int,
    *,
    sharding: Any = None,
) -> Trainer:
    """The trainer around an algorithm's ``optimize`` (see :func:`make_trainer`)."""
    obs = pol.example_observation(env, env_params)
    obs_ndim = obs.ndim
    num_envs, num_steps = config.num_envs, config.num_steps
    scale_rewards = config.scale_rewards

    def update(state: TrainState, _: Any = None) -> tuple[TrainState, dict]:
        hp = state.hparams
        key, key_rollout, key_update = jax.random.split(state.key, 3)
        params = state.params
        env_end, data = rollout(
            key_rollout,
            policy,
            params["policy"],
            env,
            env_params,
            state.env_state,
            num_steps,
            hp.gamma,
            sharding=sharding,
        )
        scaled = data
        if scale_rewards:
            stats = norm.update_stats(
                env_end.reward_stats, data.reward_return.reshape(-1)
            )
            env_end = env_end._replace(reward_stats=stats)
            scaled = data._replace(reward=data.reward / jnp.sqrt(stats.var + norm.EPS))
        batch = batch_from(scaled, value, params["value"], hp.gamma, hp.gae_lambda)
        optimizer = make_optimizer(hp, config, steps_per_update)
        new_params, opt_state, metrics = optimize(
            optimizer, params, state.opt_state, batch, key_update, hp
        )
        if config.normalize_observations:
            new_params = norm.refresh_obs_stats(new_params, data.obs, obs_ndim)
        metrics.update(episode_metrics(data, state))
        metrics["env_steps"] = jnp.int32(num_steps * num_envs)
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

    def init(key: jax.Array, hparams_: HParams | None = None) -> TrainState:
        hp = hparams(config) if hparams_ is None else hparams_
        key, key_policy, key_value, key_reset = jax.random.split(key, 4)
        params = {
            "policy": policy.init(key_policy, obs),
            "value": value.init(key_value, obs),
        }
        optimizer = make_optimizer(hp, config, steps_per_update)
        return TrainState(
            params=params,
            opt_state=optimizer.init(params),
            key=key,
            env_state=reset(
                key_reset,
                env,
                env_params,
                num_envs,
                scale_rewards=scale_rewards,
                sharding=sharding,
            ),
            step=jnp.int32(0),
            hparams=hp,
            last_episode_return=jnp.float32(0.0),
            last_episode_length=jnp.float32(0.0),
        )

    def run(state: TrainState, num_updates: int) -> tuple[TrainState, dict]:
        return jax.lax.scan(update, state, None, length=int(num_updates))

    return Trainer(init, run)
