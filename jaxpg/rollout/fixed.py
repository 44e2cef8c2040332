"""Fixed-length rollouts (A2C, PPO): ``num_steps`` steps of every environment.

N environments step T times with the current policy (``lax.scan`` over time,
``vmap`` over environments). gymnax resets an environment automatically when its
episode ends, so the window holds pieces of several episodes; the environment
state, the last observation and the running episode statistics are carried to the
next rollout in a :class:`RolloutState`. Each step records
``info["final_observation"]`` (the observation reached *before* any auto-reset),
which the critic bootstraps from where an episode was truncated.

Random keys, per time step: ``key, key_act, key_env = split(key, 3)`` and the N
environments step with ``split(key_env, N)``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import normalization as norm
from jaxpg import policy as pol
from jaxpg import recurrent
from jaxpg.sharding import constrain


class RolloutState(NamedTuple):
    """What a fixed-length rollout carries across updates (``TrainState.env_state``)."""

    env_state: Any  # the N environments' gymnax states
    obs: jax.Array  # [N, *obs_shape] float32: the observation the next step acts on
    episode_return: jax.Array  # [N] float32: undiscounted return so far
    episode_length: jax.Array  # [N] int32: steps so far in the current episode
    reward_return: Any = None  # [N] float32: R ← γR + r (scale_rewards), else None
    reward_stats: Any = None  # RunningStats of R, shape [] (scale_rewards), else None
    # recurrent.Carry of [N, k] arrays: the policy's and critic's carries for the
    # next step (reset where an episode ended); None for feed-forward networks.
    carry: Any = None


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


def reset(
    key: jax.Array,
    env: Any,
    env_params: Any,
    num_envs: int,
    *,
    scale_rewards: bool = False,
    sharding: Any = None,
    carry: Any = None,
) -> RolloutState:
    """Resets ``num_envs`` environments with ``split(key, num_envs)``.

    ``sharding`` (a ``NamedSharding`` of the env axis, or None) pins the
    per-environment arrays to it (:mod:`jaxpg.distributed`).

    Args:
      key: a PRNG key (split over the environments).
      env: the encoded environment.
      env_params: its parameters.
      num_envs: N.
      scale_rewards: also start the running return and its statistics (reward
        scaling).
      sharding: the env axis's ``NamedSharding``, or None.
      carry: the networks' initial carries for N environments
        (:func:`jaxpg.recurrent.initial_carries`), or None (feed-forward).

    Returns:
      The :class:`RolloutState` of N fresh environments (observations
      ``[N, *obs_shape]``, zero returns and lengths ``[N]``).
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
        carry=carry,
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
    parts = _StepParts(
        policy, policy_params, env, env_params, start.obs.shape[0], gamma, sharding
    )
    step = functools.partial(_step, parts)
    (_, end), batch = jax.lax.scan(step, (key, start), None, length=num_steps)
    return end, batch


class _StepParts(NamedTuple):
    """What one step of :func:`rollout` closes over."""

    policy: pol.Policy
    policy_params: Any
    env: Any
    env_params: Any
    num_envs: int
    gamma: jax.Array | float
    sharding: Any


def _step(
    parts: _StepParts, carry: tuple[jax.Array, RolloutState], _: Any
) -> tuple[tuple[jax.Array, RolloutState], Rollout]:
    """One time step of every environment (the body of :func:`rollout`'s scan)."""
    policy, sharding = parts.policy, parts.sharding
    key, s = carry
    key, key_act, key_env = jax.random.split(key, 3)
    output, h_policy = recurrent.apply(policy, parts.policy_params, s.obs, _policy(s))
    action = pol.sample(key_act, output)
    logp = pol.log_prob(output, action)
    next_obs, env_state, reward, terminated, truncated, info = jax.vmap(
        parts.env.step, in_axes=(0, 0, 0, None)
    )(
        constrain(jax.random.split(key_env, parts.num_envs), sharding),
        s.env_state,
        action,
        parts.env_params,
    )
    _check_info(info)
    nxt_carry = _next_carry(policy, s.carry, h_policy, terminated | truncated)
    record, nxt = _bookkeeping(
        s,
        action,
        logp,
        env_state,
        next_obs,
        reward,
        terminated,
        truncated,
        info,
        parts.gamma,
    )
    nxt = nxt._replace(carry=nxt_carry)
    return (key, constrain(nxt, sharding)), constrain(record, sharding)


def _check_info(info: dict) -> None:
    """ValueError unless ``env.step`` put ``final_observation`` in ``info``."""
    if "final_observation" not in info:
        raise ValueError(
            "env.step must put the pre-reset observation in "
            "info['final_observation'] (gymnax >= 1.0 does): a truncated "
            "episode bootstraps from it"
        )


def _policy(s: RolloutState) -> Any:
    """The policy's carry in ``s`` (None: feed-forward)."""
    return None if s.carry is None else s.carry.policy


def _next_carry(policy: pol.Policy, carry: Any, h_policy: Any, done: jax.Array):
    """The carries for the next step: the policy's new carry, reset to its initial
    one where the step ended an episode (the critic's is advanced by the update's
    replay, :func:`jaxpg.algorithms.actor_critic.batch_from`)."""
    if carry is None or h_policy is None:
        return carry
    return carry._replace(policy=recurrent.reset(policy, h_policy, done))


def _bookkeeping(
    s: RolloutState,
    action: jax.Array,
    logp: jax.Array,
    env_state: Any,
    next_obs: jax.Array,
    reward: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    info: dict,
    gamma: Any,
) -> tuple[Rollout, RolloutState]:
    """One step's record and the state after it: running episode statistics are
    written out where an episode ended, then restarted."""
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
    return record, nxt
