"""Evaluation of a trained policy in its gymnax environment."""

from __future__ import annotations

import functools
from typing import Any

import jax

from jaxpg import policy as pol
from jaxpg import recurrent
from jaxpg.envs import Frozen, encode_env, max_episode_steps, unwrap
from jaxpg.memory import INT32_MAX, check_fits, rollout_bytes
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


def check_evaluation_memory(
    env: Any,
    env_params: Any,
    num_episodes: int,
    copies: int = 1,
    field: str = "num_episodes",
    copies_field: str = "seeds",
) -> None:
    """ValueError when ``num_episodes`` parallel episodes cannot fit in memory.

    The episodes run side by side for the whole horizon: a lower bound of their
    rollout (:func:`jaxpg.memory.rollout_bytes`) is compared with the memory.

    Args:
      env: the environment (raw or encoded).
      env_params: its parameters.
      num_episodes: episodes per evaluation.
      copies: evaluations side by side (seeds).
      field: how the message names the episode count.
      copies_field: how it names the seed count.
    """
    env = encode_env(env)
    steps = max_episode_steps(env_params)
    times = f" × {copies} {copies_field}" if copies > 1 else ""
    check_fits(
        f"{field}: {num_episodes} evaluation episodes{times} of up to {steps} steps",
        rollout_bytes(env, env_params, steps, num_episodes * copies),
        f"lower {field}" + (f" or {copies_field}" if copies > 1 else ""),
    )


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
        or not 1 <= num_episodes <= INT32_MAX
    ):
        raise ValueError(
            f"num_episodes must be an integer >= 1 and <= {INT32_MAX}; got "
            f"{num_episodes!r}"
        )
    recurrent.check_form(policy)
    raw_env = unwrap(env)
    if env_params is None:
        env_params = raw_env.default_params
    check_evaluation_memory(raw_env, env_params, num_episodes)
    fn = _evaluate_fn(
        policy, raw_env, Frozen(env_params), num_episodes, bool(deterministic)
    )
    return fn(key, params["policy"])
