"""Smoke runs behind the supported-environments table (``scripts/env_table.py``).

For one gymnax id, :func:`describe_env` records its action and observation spaces
and horizon, and runs every registered algorithm briefly with a small, untuned
budget (:data:`SMOKE_BUDGETS`): a greedy 100-episode evaluation of the initial and
of the trained policy (:func:`smoke`). The runs show that each algorithm runs end
to end and moves the return, not what it can reach. An unsupported id gets the
reason instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxpg.algorithms import registry
from jaxpg.envs import (
    UNSUPPORTED_ENVS,
    is_box,
    is_discrete,
    make_env,
    max_episode_steps,
)
from jaxpg.evaluate import evaluate
from jaxpg.policy import make_policy
from jaxpg.train import make_trainer

__all__ = [
    "SMOKE_BUDGETS",
    "describe_env",
    "describe_space",
    "labels",
    "smoke",
    "smoke_configs",
]

# Each algorithm's smoke budget (config fields besides env_id and hidden sizes),
# by registry name: the table shows one smoke result per entry.
SMOKE_BUDGETS = {
    "reinforce": dict(num_envs=16, num_updates=30),
    "a2c": dict(num_envs=16, num_steps=16, num_updates=120),
    "ppo": dict(num_envs=16, num_steps=64, num_updates=30),
}


def describe_space(space: Any) -> str:
    """A space as the table shows it.

    Args:
      space: a gymnax space.

    Returns:
      ``Discrete(n)``, ``Box(shape)`` or the space's class name.
    """
    if is_discrete(space):
        return f"Discrete({int(space.n)})"
    if is_box(space):
        return f"Box{tuple(int(s) for s in space.shape)}"
    return type(space).__name__


def labels() -> list[str]:
    """The labels of the algorithms of :data:`SMOKE_BUDGETS`, in its order.

    Returns:
      the registry's labels.
    """
    return [registry.get(name).label for name in SMOKE_BUDGETS]


def smoke_configs(env_id: str) -> dict:
    """``{label: config}`` of every algorithm of :data:`SMOKE_BUDGETS` on ``env_id``.

    Args:
      env_id: the environment.

    Returns:
      the configs (a 32×32 MLP), keyed by the registry's label.
    """
    common = {"env_id": env_id, "hidden_sizes": (32, 32)}
    return {
        registry.get(name).label: registry.get(name).config_type(**budget, **common)
        for name, budget in SMOKE_BUDGETS.items()
    }


def smoke(env_id: str, config: Any, seed: int = 0) -> dict:
    """One short training run and greedy evaluations before and after it.

    Args:
      env_id: the environment.
      config: the algorithm's config (``num_updates`` updates in one call).
      seed: the training key is ``jax.random.key(seed)``, the evaluations'
        ``jax.random.key(1000 + seed)``.

    Returns:
      ``before`` and ``after`` (mean of 100 greedy episodes), ``env_steps``,
      ``wall_s`` of the training call and whether every loss was ``finite``.
    """
    env, env_params = make_env(env_id)
    trainer = make_trainer(config, env, env_params)
    init = jax.jit(trainer.init)(jax.random.key(seed))
    policy_params = init.params
    run = jax.jit(trainer.run, static_argnums=1)
    t0 = time.perf_counter()
    state, metrics = run(init, config.num_updates)
    jax.block_until_ready(state.params)
    wall = time.perf_counter() - t0
    policy = make_policy(config, env, env_params)
    key = jax.random.key(1000 + seed)
    before = float(np.mean(evaluate(key, policy, policy_params, env, env_params, 100)))
    after = float(np.mean(evaluate(key, policy, state.params, env, env_params, 100)))
    steps = int(np.asarray(metrics["env_steps"], np.int64).sum())
    finite = bool(np.all(np.isfinite(np.asarray(metrics["loss"]))))
    return {
        "before": before,
        "after": after,
        "env_steps": steps,
        "wall_s": wall,
        "finite": finite,
    }


def describe_env(env_id: str, log: Callable[[str], Any] = print) -> dict:
    """The table's record of one gymnax id.

    Args:
      env_id: the id.
      log: gets one line per smoke run.

    Returns:
      ``{"supported": False, "reason"}``, or the spaces, horizon and every smoke
      run's result (or its error, reported, not raised).
    """
    if env_id in UNSUPPORTED_ENVS:
        return {"supported": False, "reason": UNSUPPORTED_ENVS[env_id]}
    env, env_params = make_env(env_id)
    action = describe_space(env.action_space(env_params))
    obs = describe_space(env.raw_observation_space(env_params))
    horizon = max_episode_steps(env_params)
    results = {}
    for name, config in smoke_configs(env_id).items():
        try:
            r = smoke(env_id, config)
        except Exception as error:  # report, do not hide
            r = {"error": f"{type(error).__name__}: {error}"[:200]}
        results[name] = r
        log(f"{env_id} {name} {r}")
    return {
        "supported": True,
        "action_space": action,
        "observation_space": obs,
        "horizon": horizon,
        "smoke": results,
    }
