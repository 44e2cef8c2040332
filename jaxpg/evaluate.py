"""Evaluation of a trained policy in its gymnax environment."""

from __future__ import annotations

import functools
from typing import Any

import jax

from jaxpg import policy as pol
from jaxpg.envs import Frozen, encode_env, max_episode_steps, unwrap
from jaxpg.rollout import episode_statistics, episodic_rollout


def episode_returns(
    key: jax.Array,
    policy: pol.Policy,
    policy_params: Any,
    env: Any,
    env_params: Any,
    num_episodes: int,
    deterministic: bool = True,
) -> jax.Array:
    """Returns of ``num_episodes`` complete episodes, ``[num_episodes]``: traceable.

    The pure computation behind :func:`evaluate`, for use inside a caller's own
    ``jax.jit``/``jax.vmap`` (no jit of its own). ``env_params`` must be concrete
    (its horizon sizes the rollout).

    Args:
      key: a PRNG key.
      policy: the :class:`jaxpg.Policy`.
      policy_params: its parameters (``params["policy"]``).
      env: the environment (raw or wrapped).
      env_params: its parameters (concrete).
      num_episodes: how many episodes, run in parallel.
      deterministic: greedy (mode) actions; ``False`` samples.

    Returns:
      The undiscounted return of each episode, ``[num_episodes]`` float32.
    """
    env = encode_env(env)
    traj = episodic_rollout(
        key,
        policy,
        policy_params,
        env,
        env_params,
        num_episodes,
        max_steps=max_episode_steps(env_params),
        deterministic=deterministic,
    )
    return episode_statistics(traj)["return"]


@functools.lru_cache(maxsize=64)
def _evaluate_fn(policy, raw_env, frozen_params, num_episodes, deterministic):
    env_params = frozen_params.tree

    @jax.jit
    def run(key, policy_params):
        return episode_returns(
            key, policy, policy_params, raw_env, env_params, num_episodes, deterministic
        )

    return run


def evaluate(
    key: jax.Array,
    policy: pol.Policy,
    params: dict,
    env: Any,
    env_params: Any = None,
    num_episodes: int = 100,
    deterministic: bool = True,
) -> jax.Array:
    """Undiscounted returns of ``num_episodes`` complete episodes, ``[num_episodes]``.

    Args:
      key: PRNG key (environment resets and, if sampling, actions).
      policy: the :class:`jaxpg.Policy` that was trained.
      params: the full params dict (``result.params``).
      env: the environment (raw gymnax or from :func:`jaxpg.make_env`).
      env_params: its parameters (defaults otherwise).
      num_episodes: how many episodes, run in parallel.
      deterministic: greedy (mode) actions; ``False`` samples from the policy.

    Returns:
      The undiscounted return of each episode, ``[num_episodes]`` float32.

    Raises:
      ValueError: a ``num_episodes`` that is not an integer >= 1.

    Jitted internally (cached per policy, environment and episode count); it can
    also be called inside ``jax.jit`` or ``jax.vmap``.
    """
    if (
        isinstance(num_episodes, bool)
        or not isinstance(num_episodes, int)
        or num_episodes < 1
    ):
        raise ValueError(f"num_episodes must be an integer >= 1; got {num_episodes!r}")
    raw_env = unwrap(env)
    if env_params is None:
        env_params = raw_env.default_params
    fn = _evaluate_fn(
        policy, raw_env, Frozen(env_params), num_episodes, bool(deterministic)
    )
    return fn(key, params["policy"])
